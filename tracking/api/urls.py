"""API v1 routes of this app, included under /api/v1/ by dropmate/api/urls.py."""

from django.urls import path

from tracking.api import views

urlpatterns = [
    path(
        "drivers/me/locations",
        views.DriverLocationsApi.as_view(),
        name="api-driver-locations",
    ),
    path(
        "shipments/<str:tracking>/events",
        views.ShipmentEventsApi.as_view(),
        name="api-shipment-events",
    ),
    path(
        "shipments/<str:tracking>/location",
        views.ShipmentLocationApi.as_view(),
        name="api-shipment-location",
    ),
    path(
        "vehicles/<int:vehicle_id>/location",
        views.VehicleLocationApi.as_view(),
        name="api-vehicle-location",
    ),
]
