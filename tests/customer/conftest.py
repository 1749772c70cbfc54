"""Fixtures for the customer portal: wizard input as a browser posts it, a localstripe server
(the Stripe stand-in) started once per session, and Stripe settings pointed at it."""

import os
import subprocess
import sys
import tempfile
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone

from tests.realservices import free_port, unavailable, wait_for_port

LAUNCHER = Path(__file__).with_name("localstripe_launcher.py")
WEBHOOK_SECRET = "whsec_dropmate_tests"


def clear_rate_limits() -> None:
    """Forget every rate-limit counter. Never FLUSHDB: other areas' tests share Redis."""
    backend = getattr(cache, "_cache", None)
    if hasattr(backend, "get_client"):
        client = backend.get_client(write=True)
        for key in client.scan_iter(match="*:ratelimit:*"):
            client.delete(key)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # Rate-limit counters live in the shared cache; tests must not share them.
    clear_rate_limits()
    yield
    clear_rate_limits()


def _local(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def tomorrow_at(hour: int) -> datetime:
    """Tomorrow at `hour`, local time: the base of the windows a customer types. Windows a few
    hours from "now" made the tests depend on the hour they ran at: in a time zone with summer
    time they fell into the hour a clock change skips or repeats, which the form refuses as
    ambiguous (e.g. Europe/Brussels from 21:00 UTC on the last Saturday of October)."""
    day = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(hour)))


def step_posts() -> dict[str, dict[str, str]]:
    """What a customer types in each wizard step (valid input)."""
    start = tomorrow_at(10)
    return {
        "pickup": {
            "pickup_address": "Veldstraat 12",
            "pickup_city": "Ghent",
            "pickup_postcode": "9000",
            "pickup_lat": "51.0520",
            "pickup_lng": "3.7215",
            "pickup_contact_name": "Pat Pickup",
            "pickup_contact_phone": "+32470111111",
            "pickup_instructions": "Ring twice",
        },
        "dropoff": {
            "dropoff_address": "Kouter 7",
            "dropoff_city": "Ghent",
            "dropoff_postcode": "9000",
            "dropoff_lat": "51.0400",
            "dropoff_lng": "3.7300",
            "dropoff_contact_name": "Dee Dropoff",
            "dropoff_contact_phone": "+32470222222",
        },
        "parcel": {
            "size_class": "medium",
            "weight_kg": "3.5",
            "declared_value": "40",
            "description": "Books",
        },
        "service": {
            "service_level": "express",
            "pickup_window_start": _local(start),
            "pickup_window_end": _local(start + timedelta(hours=1)),
            "delivery_window_start": _local(start + timedelta(hours=1)),
            "delivery_window_end": _local(start + timedelta(hours=3)),
        },
    }


@pytest.fixture
def posts():
    return step_posts()


@pytest.fixture(scope="session")
def localstripe_url():
    """A localstripe server on a free loopback port for the whole session."""
    port = free_port()
    fd, log_path = tempfile.mkstemp(prefix="localstripe-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(LAUNCHER), str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            wait_for_port("127.0.0.1", port, timeout=20)
        except TimeoutError:
            proc.kill()
            proc.wait(timeout=10)
            unavailable(f"localstripe did not start (log: {log_path})")
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def stripe_on(settings, localstripe_url):
    """Card payments configured against localstripe."""
    settings.STRIPE_SECRET_KEY = "sk_test_dropmate"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_dropmate"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    return localstripe_url


def register_webhook(localstripe_url: str, url: str) -> None:
    """Ask localstripe to deliver its (signed) events to `url`."""
    response = requests.post(
        f"{localstripe_url}/_config/webhooks/dropmate",
        data={"url": url, "secret": WEBHOOK_SECRET},
        timeout=10,
    )
    response.raise_for_status()
