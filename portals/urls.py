from django.urls import include, path

from portals.views import public
from portals.views.live import live_page

urlpatterns = [
    path("", public.home, name="home"),
    path("track/", public.track_search, name="track-search"),
    path("track/<str:tracking>/", public.track, name="track"),
    path("", include("portals.urls_customer")),
    path("driver/", include("portals.urls_driver")),
    path("staff/", include("portals.urls_staff")),
    path("live/<str:tracking>/", live_page, name="live-tracking"),
]
