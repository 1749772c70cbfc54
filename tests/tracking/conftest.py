"""Fixtures for live tracking: a fresh cache namespace per test, and fix builders."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tracking import cache as live


@pytest.fixture(autouse=True)
def _fresh_live_state(monkeypatch):
    # Cached positions and claimed client ids never leak from one test into another, on the
    # local-memory cache and on a Redis shared with other runs alike.
    monkeypatch.setattr(live, "NAMESPACE", f"tracking-test-{uuid.uuid4().hex}")


def fix_at(lat: float, lng: float, *, seconds_ago: float = 0, **extra) -> dict:
    """One fix as a device sends it."""
    return {
        "client_id": str(uuid.uuid4()),
        "device_time": (timezone.now() - timedelta(seconds=seconds_ago)).isoformat(),
        "lat": lat,
        "lng": lng,
        "accuracy_m": 10,
        **extra,
    }


@pytest.fixture
def make_fix():
    return fix_at
