"""WebSocket routes (see tracking/consumers.py for frames and close codes)."""

from django.urls import path

from tracking import consumers

websocket_urlpatterns: list = [
    path("ws/shipments/<str:tracking>/", consumers.ShipmentConsumer.as_asgi()),
    path("ws/fleet/", consumers.FleetConsumer.as_asgi()),
    path("ws/driver/", consumers.DriverConsumer.as_asgi()),
]
