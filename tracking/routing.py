"""WebSocket routes. The live-tracking issue adds /ws/shipments/, /ws/fleet/ and /ws/driver/."""

websocket_urlpatterns: list = []
