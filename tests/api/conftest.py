"""API personas: each gets a real personal token (the auth integrations use)."""

import pytest
from rest_framework.test import APIClient

from dropmate.api.tokens import api_token_issue


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        raw = api_token_issue(user=user, name="tests", issued_by=None).raw
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


class _Clients(dict):
    """Builds a persona's client on first use, so a test pays only for the personas it uses."""

    def __init__(self, request) -> None:
        super().__init__()
        self._request = request

    def __missing__(self, name: str) -> APIClient:
        if name == "anon":
            user = None
        else:
            persona = self._request.getfixturevalue(name)
            user = persona.user if name in ("dan", "erin") else persona
        self[name] = client_for(user)
        return self[name]


@pytest.fixture
def api(request, db):
    """Clients by persona name: alice/bob (customers), dan/erin (drivers), dora/ada (staff),
    anon (no credentials)."""
    return _Clients(request)


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]["code"]


def booking_body(**overrides) -> dict:
    """A valid POST /api/v1/shipments body (windows in the near future)."""
    from datetime import timedelta

    from django.utils import timezone

    start = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    body = {
        "reference": "PO-1001",
        "service_level": "standard",
        "pickup": {
            "address": "Veldstraat 12",
            "city": "Ghent",
            "postcode": "9000",
            "lat": 51.0520,
            "lng": 3.7215,
            "contact_name": "Pat Pickup",
            "contact_phone": "+32470111111",
        },
        "dropoff": {
            "address": "Kouter 7",
            "city": "Ghent",
            "postcode": "9000",
            "lat": 51.0400,
            "lng": 3.7335,
            "contact_name": "Dee Dropoff",
            "contact_phone": "+32470222222",
            "instructions": "Ring twice",
        },
        "size_class": "small",
        "weight_kg": "2.50",
        "description": "Flowers",
        "pickup_window_start": start.isoformat(),
        "pickup_window_end": (start + timedelta(hours=1)).isoformat(),
        "delivery_window_start": (start + timedelta(hours=1)).isoformat(),
        "delivery_window_end": (start + timedelta(hours=3)).isoformat(),
    }
    body.update(overrides)
    return body
