"""Public tracking: status, timeline and a coarse area for anyone with the number; no
personal data in any state; unknown and malformed numbers look the same; a rate limit per
client address in the shared cache."""

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from shipments.lifecycle import Status
from shipments.models import ProofOfDelivery
from tests.factories import draft_fields


def _personal_data(shipment) -> list[str]:
    fields = draft_fields()
    values = [
        shipment.customer.email,
        shipment.customer.first_name,
        shipment.customer.last_name,
        shipment.customer.phone,
        fields["pickup_address"],
        fields["dropoff_address"],
        fields["pickup_contact_name"],
        fields["dropoff_contact_name"],
        fields["pickup_contact_phone"],
        fields["dropoff_contact_phone"],
        fields["description"],
        "Veldstraat",
        "Kouter",
        str(shipment.pickup_lat),
        "/media/",
        "pod/",
        f'"{shipment.pk}"',
        f"/{shipment.pk}/",
    ]
    if shipment.driver is not None:
        values += [
            shipment.driver.user.first_name,
            shipment.driver.user.email,
            shipment.driver.user.phone,
            shipment.driver.vehicle.plate,
            shipment.driver.vehicle.name,
        ]
    return [v for v in values if v]


PUBLIC_STATES = [s for s in Status if s != Status.DRAFT]


@pytest.mark.parametrize("status", PUBLIC_STATES)
def test_public_page_shows_status_and_no_personal_data(client, shipment_in, status):
    shipment = shipment_in(status)
    if status == Status.DELIVERED:
        ProofOfDelivery.objects.create(
            shipment=shipment,
            recipient_name="Rita Recipient",
            photo=ContentFile(b"\x89PNG fake", name="door.png"),
            captured_at=timezone.now(),
        )
    response = client.get(reverse("track", args=[shipment.tracking_number]))
    assert response.status_code == 200
    html = response.content.decode()
    assert shipment.tracking_number in html
    assert shipment.get_status_display() in html
    assert "Ghent" in html  # the coarse area: the city, not the street
    for value in _personal_data(shipment) + ["Rita Recipient", "door"]:
        # Not right after the "hh:mm:" of a timeline timestamp: "01:31:51.052659" holds the
        # pickup latitude 51.052 when an event falls at second 51.052 of a minute.
        leak = re.search(rf"(?<!\d\d:\d\d:){re.escape(value)}", html)
        assert leak is None, f"public page for {status} leaks {value!r}"
    # No coordinate finer than two decimals (about a kilometre).
    assert not re.search(r"(?<![:\d.])-?\d{1,3}\.\d{3,}", html)


def test_public_map_is_coarse(client, shipment_in):
    shipment = shipment_in(Status.IN_TRANSIT)
    html = client.get(reverse("track", args=[shipment.tracking_number])).content.decode()
    assert f'data-area="{round(shipment.dropoff_lat, 2)},{round(shipment.dropoff_lng, 2)}"' in html


def test_draft_unknown_and_malformed_numbers_get_the_same_404(client, shipment_in):
    draft = shipment_in(Status.DRAFT)
    responses = [
        client.get(reverse("track", args=[number]))
        for number in (draft.tracking_number, "DM-00000-00000-00000", "not-a-number", "DM-1")
    ]
    assert {r.status_code for r in responses} == {404}
    bodies = {r.content for r in responses}
    assert len(bodies) == 1, "the page must not tell unknown from malformed numbers"


def test_lowercase_and_confusable_input_finds_the_shipment(client, shipment_in):
    shipment = shipment_in(Status.PENDING_REVIEW)
    typed = shipment.tracking_number.lower().replace("-", " ")
    response = client.get(reverse("track-search"), {"number": typed})
    assert response["Location"] == reverse("track", args=[shipment.tracking_number])
    assert client.get(response["Location"]).status_code == 200


def test_too_many_lookups_from_one_address_get_429(client, settings, shipment_in):
    settings.PUBLIC_TRACKING_RATE_LIMIT = 5
    shipment = shipment_in(Status.PENDING_REVIEW)
    url = reverse("track", args=[shipment.tracking_number])
    codes = [client.get(url, REMOTE_ADDR="198.51.100.7").status_code for _ in range(5)]
    assert codes == [200] * 5
    limited = client.get(
        reverse("track", args=["DM-00000-00000-00000"]), REMOTE_ADDR="198.51.100.7"
    )
    assert limited.status_code == 429
    assert limited["Retry-After"] == str(settings.PUBLIC_TRACKING_RATE_WINDOW)
    # Another address is not affected.
    assert client.get(url, REMOTE_ADDR="198.51.100.8").status_code == 200


def test_rate_limit_is_shared_through_redis_across_processes(settings, shipment_in):
    """Counted in Redis, the limit holds for another process (another cache client here)."""
    from django.core.cache.backends.redis import RedisCache

    from tests.realservices import redis_url

    url = redis_url()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "dropmate-test-customer",
        }
    }
    from django.core.cache import caches
    from django.test import Client

    settings.PUBLIC_TRACKING_RATE_LIMIT = 3
    shipment = shipment_in(Status.PENDING_REVIEW)
    track_url = reverse("track", args=[shipment.tracking_number])
    client = Client()
    caches["default"].delete("ratelimit:track:203.0.113.9")
    for _ in range(3):
        assert client.get(track_url, REMOTE_ADDR="203.0.113.9").status_code == 200
    # A second process shares nothing with this one but Redis: its counter already says 3.
    other = RedisCache(url, {"KEY_PREFIX": "dropmate-test-customer"})
    assert other.get("ratelimit:track:203.0.113.9") == 3
    assert client.get(track_url, REMOTE_ADDR="203.0.113.9").status_code == 429
    caches["default"].delete("ratelimit:track:203.0.113.9")


def test_home_offers_tracking(client):
    html = client.get(reverse("home")).content.decode()
    assert 'action="/track/"' in html
