"""API v1 routes of this app, included under /api/v1/ by dropmate/api/urls.py."""

from django.urls import path

from shipments.api import views

urlpatterns: list = [
    path("shipments", views.ShipmentsApi.as_view(), name="api-shipments"),
    path("quotes", views.QuotesApi.as_view(), name="api-quotes"),
    # Before shipments/<tracking>: "track" is never a tracking number.
    path(
        "shipments/track/<str:tracking>",
        views.ShipmentTrackApi.as_view(),
        name="api-shipment-track",
    ),
    path("shipments/<str:tracking>", views.ShipmentDetailApi.as_view(), name="api-shipment"),
    path(
        "shipments/<str:tracking>/transitions",
        views.ShipmentTransitionsApi.as_view(),
        name="api-shipment-transitions",
    ),
    path(
        "shipments/<str:tracking>/redelivery",
        views.ShipmentRedeliveryApi.as_view(),
        name="api-shipment-redelivery",
    ),
]
