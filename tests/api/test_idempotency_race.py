"""The same Idempotency-Key sent concurrently on PostgreSQL books exactly one shipment."""

import pytest

from shipments.models import IdempotencyKey, Shipment
from tests.api.conftest import booking_body, client_for
from tests.realservices import race, require_postgres


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_book_one_shipment(alice):
    require_postgres()
    body = booking_body()
    clients = [client_for(alice) for _ in range(5)]

    def book(i: int):
        return clients[i].post(
            "/api/v1/shipments", body, format="json", HTTP_IDEMPOTENCY_KEY="race-1"
        )

    responses = race(5, book)
    assert all(not isinstance(r, Exception) for r in responses), responses
    assert [r.status_code for r in responses] == [201] * 5
    assert len({r.json()["tracking_number"] for r in responses}) == 1
    assert sum(1 for r in responses if r.has_header("Idempotent-Replayed")) == 4
    assert Shipment.objects.count() == 1
    assert IdempotencyKey.objects.get().shipment == Shipment.objects.get()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_and_other_bodies_book_one(alice):
    require_postgres()
    bodies = [booking_body(reference=f"PO-{i}") for i in range(4)]
    clients = [client_for(alice) for _ in range(4)]

    def book(i: int):
        return clients[i].post(
            "/api/v1/shipments", bodies[i], format="json", HTTP_IDEMPOTENCY_KEY="race-2"
        )

    responses = race(4, book)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 422, 422, 422], [r.json() for r in responses]
    assert Shipment.objects.count() == 1
