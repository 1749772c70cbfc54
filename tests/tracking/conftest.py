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


@pytest.fixture(params=["memory", "redis"])
def layer(request, settings):
    """Run a consumer test on the in-memory layer and on the Redis pub/sub layer."""
    if request.param == "redis":
        from tests.realservices import redis_url

        url = redis_url()
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "dropmate.layers.PipelinedPubSubChannelLayer",
                "CONFIG": {"hosts": [url], "prefix": f"trk-test-{uuid.uuid4().hex[:8]}"},
            }
        }
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return request.param


@pytest.fixture(autouse=True)
def _fix_buffer():
    """No background flusher in tests (SQLite's shared in-memory database locks whole tables
    across threads); tests call buffer.flush() themselves. Nothing carries over."""
    from tracking.buffer import buffer

    buffer.background = False
    buffer.discard()
    yield buffer
    buffer.discard()
    buffer.background = True
