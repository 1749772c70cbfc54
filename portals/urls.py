from django.urls import include, path

from portals.views import public

urlpatterns = [
    path("", public.home, name="home"),
    path("", include("portals.urls_customer")),
    path("driver/", include("portals.urls_driver")),
    path("staff/", include("portals.urls_staff")),
]
