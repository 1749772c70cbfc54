"""POST /api/v1/shipments and POST /api/v1/quotes: the server prices; bookings start unpaid;
Idempotency-Key makes retries safe."""

from decimal import Decimal

import pytest

from shipments.lifecycle import Status
from shipments.models import IdempotencyKey, Shipment
from shipments.pricing import quote_compute
from tests.api.conftest import booking_body, error_code

URL = "/api/v1/shipments"


def test_customer_books_a_priced_unpaid_shipment(api, alice):
    response = api["alice"].post(URL, booking_body(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    shipment = Shipment.objects.get(tracking_number=body["tracking_number"])
    assert shipment.customer == alice
    assert shipment.status == Status.AWAITING_PAYMENT == body["status"]
    assert body["payment_state"] == "none"
    expected = quote_compute(
        pickup=(51.0520, 3.7215),
        dropoff=(51.0400, 3.7335),
        weight_kg=Decimal("2.50"),
        size_class="small",
        service_level="standard",
    )
    assert body["price"] == {"amount": str(expected.total), "currency": expected.currency}
    assert body["price_breakdown"] == expected.lines
    assert body["pickup"]["contact_phone"] == "+32470111111"
    assert body["dropoff"]["instructions"] == "Ring twice"
    assert body["parcel"]["weight_kg"] == "2.50"
    assert body["created_at"].endswith("Z")
    assert body["delivery_window_end"].endswith("Z")
    assert {m["to"] for m in body["allowed_transitions"]} == {"draft", "cancelled"}
    # The timeline went through the lifecycle service: draft, then awaiting payment.
    assert list(shipment.events.values_list("status", flat=True)) == [
        "draft",
        "awaiting_payment",
    ]


def test_client_cannot_set_a_price_or_status(api):
    body = booking_body(price="0.01", status="delivered", currency="XXX")
    response = api["alice"].post(URL, body, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "awaiting_payment"
    assert response.json()["price"]["amount"] != "0.01"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"weight_kg": "0"}, "weight_kg"),
        ({"weight_kg": "51"}, "weight_kg"),
        ({"weight_kg": "heavy"}, "weight_kg"),
        ({"size_class": "huge"}, "size_class"),
        ({"service_level": "warp"}, "service_level"),
        ({"reference": "x" * 65}, "reference"),
        ({"pickup": None}, "pickup"),
        ({"dropoff": {"address": "Kouter 7"}}, "dropoff"),
        ({"length_cm": 0}, "length_cm"),
        ({"declared_value": "-1"}, "declared_value"),
        ({"pickup_window_end": None}, "pickup_window_end"),
        ({"pickup_window_end": "2020-01-01T00:00:00Z"}, "pickup_window_end"),
        ({"delivery_window_start": "not a date"}, "delivery_window_start"),
    ],
)
def test_each_invalid_field_is_a_400_naming_it(api, change, field):
    body = booking_body(**change)
    if change.get("pickup_window_end", "x") is None:
        body.pop("pickup_window_end")
    response = api["alice"].post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert error_code(response) == "invalid"
    assert field in response.json()["error"]["details"]
    assert not Shipment.objects.exists()


@pytest.mark.parametrize("place", ["pickup", "dropoff"])
@pytest.mark.parametrize(
    "change, field",
    [
        ({"lat": 91}, "lat"),
        ({"lng": -181}, "lng"),
        ({"contact_phone": "0470 12 34 56"}, "contact_phone"),
        ({"city": ""}, "city"),
    ],
)
def test_invalid_places_are_400(api, place, change, field):
    body = booking_body()
    body[place] = {**body[place], **change}
    response = api["alice"].post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"][place]


def test_same_pickup_and_dropoff_is_refused(api):
    body = booking_body()
    body["dropoff"] = {**body["dropoff"], "lat": 51.0520, "lng": 3.7215}
    response = api["alice"].post(URL, body, format="json")
    assert response.status_code == 400
    assert "different places" in response.json()["error"]["message"]
    assert not Shipment.objects.exists()


def test_form_bodies_are_refused_with_415(api):
    response = api["alice"].post(URL, {"reference": "x"})
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"


@pytest.mark.parametrize("who", ["dan", "dora", "ada"])
def test_only_customers_book(api, who):
    response = api[who].post(URL, booking_body(), format="json")
    assert response.status_code == 403
    assert error_code(response) == "forbidden"
    assert not Shipment.objects.exists()


def test_anonymous_cannot_book(api):
    assert api["anon"].post(URL, booking_body(), format="json").status_code == 401


# --- Idempotency-Key ---------------------------------------------------------------------------


def test_same_key_and_body_book_once(api):
    body = booking_body()
    first = api["alice"].post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    again = api["alice"].post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["tracking_number"] == first.json()["tracking_number"]
    assert Shipment.objects.count() == 1


def test_same_key_other_body_is_422(api):
    first = api["alice"].post(URL, booking_body(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    other = api["alice"].post(
        URL, booking_body(reference="PO-2"), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert other.status_code == 422
    assert error_code(other) == "idempotency_mismatch"
    assert other.json()["error"]["details"]["tracking_number"] == first.json()["tracking_number"]
    assert Shipment.objects.count() == 1


def test_keys_are_per_user(api):
    body = booking_body()
    a = api["alice"].post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    b = api["bob"].post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert a.json()["tracking_number"] != b.json()["tracking_number"]
    assert Shipment.objects.count() == 2


def test_other_keys_book_again(api):
    body = booking_body()
    api["alice"].post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="one")
    api["alice"].post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="two")
    api["alice"].post(URL, body, format="json")
    assert Shipment.objects.count() == 3


def test_a_failed_booking_does_not_burn_its_key(api):
    body = booking_body()
    bad = {**body, "dropoff": {**body["dropoff"], "lat": 51.0520, "lng": 3.7215}}
    assert api["alice"].post(URL, bad, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 400
    assert not IdempotencyKey.objects.exists()
    retry = api["alice"].post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert retry.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "naïve"])
def test_malformed_keys_are_400(api, key):
    response = api["alice"].post(
        URL, booking_body(), format="json", HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1")
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert not Shipment.objects.exists()


# --- quotes ------------------------------------------------------------------------------------

QUOTE = {
    "pickup": {"lat": 51.0520, "lng": 3.7215},
    "dropoff": {"lat": 51.0400, "lng": 3.7335},
    "weight_kg": "7.00",
    "size_class": "large",
    "service_level": "express",
}


@pytest.mark.parametrize("who", ["alice", "dora"])
def test_quote_prices_without_booking(api, who):
    response = api[who].post("/api/v1/quotes", QUOTE, format="json")
    assert response.status_code == 200
    expected = quote_compute(
        pickup=(51.0520, 3.7215),
        dropoff=(51.0400, 3.7335),
        weight_kg=Decimal("7.00"),
        size_class="large",
        service_level="express",
    )
    body = response.json()
    assert body["price"] == {"amount": str(expected.total), "currency": "EUR"}
    assert body["distance_km"] == str(expected.distance_km)
    assert body["lines"] == expected.lines
    assert not Shipment.objects.exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"pickup": {"lat": 100, "lng": 3}}, "pickup"),
        ({"dropoff": None}, "dropoff"),
        ({"weight_kg": "-1"}, "weight_kg"),
        ({"size_class": "tiny"}, "size_class"),
        ({"service_level": "now"}, "service_level"),
    ],
)
def test_quote_validation_errors(api, change, field):
    response = api["alice"].post("/api/v1/quotes", {**QUOTE, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_quote_same_place_is_400(api):
    body = {**QUOTE, "dropoff": QUOTE["pickup"]}
    response = api["alice"].post("/api/v1/quotes", body, format="json")
    assert response.status_code == 400
    assert error_code(response) == "invalid"


def test_quote_needs_authentication(api):
    assert api["anon"].post("/api/v1/quotes", QUOTE, format="json").status_code == 401
