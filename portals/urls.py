from django.urls import path

from portals.views import public

urlpatterns = [
    path("", public.home, name="home"),
]
