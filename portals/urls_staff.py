"""Routes of the staff portal (included by portals/urls.py)."""

from django.urls import path  # noqa: F401

from portals.views.fleet import fleet_map

urlpatterns: list = []
urlpatterns.append(path("fleet/", fleet_map, name="staff-fleet"))
