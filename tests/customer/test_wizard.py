"""The booking wizard through the test client: every step, resume after leaving, every
validation error shown beside its field with what was typed kept."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from shipments.lifecycle import Status
from shipments.models import PaymentMethod, PaymentState, Shipment
from tests.customer.conftest import _local, tomorrow_at


def step_url(shipment: Shipment, step: str) -> str:
    return reverse(
        "customer-book-step", kwargs={"tracking": shipment.tracking_number, "step": step}
    )


def start(client, posts) -> Shipment:
    response = client.post(reverse("customer-book-new", kwargs={"step": "pickup"}), posts["pickup"])
    assert response.status_code == 302, response.content.decode()[:2000]
    shipment = Shipment.objects.get()
    assert response["Location"] == step_url(shipment, "dropoff")
    return shipment


def fill(client, shipment, posts, steps=("dropoff", "parcel", "service")) -> None:
    for step in steps:
        response = client.post(step_url(shipment, step), posts[step])
        assert response.status_code == 302, response.content.decode()[:3000]


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def test_whole_wizard_books_with_pay_on_delivery(alice_client, alice, posts):
    shipment = start(alice_client, posts)
    assert shipment.status == Status.DRAFT and shipment.customer == alice
    fill(alice_client, shipment, posts)
    review = alice_client.get(reverse("customer-book-review", args=[shipment.tracking_number]))
    assert review.status_code == 200
    shipment.refresh_from_db()
    html = review.content.decode()
    assert shipment.price is not None and shipment.price > 0
    for line in shipment.price_breakdown:
        assert line["label"] in html
    assert f"{shipment.price} EUR" in html
    assert "Express service" in html  # the multiplier line of the breakdown
    response = alice_client.post(
        reverse("customer-book-review", args=[shipment.tracking_number]),
        {"payment_method": "on_delivery"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("customer-shipment", args=[shipment.tracking_number])
    shipment.refresh_from_db()
    assert shipment.status == Status.PENDING_REVIEW
    assert shipment.payment_method == PaymentMethod.ON_DELIVERY
    assert shipment.payment_state == PaymentState.ON_DELIVERY
    statuses = list(shipment.events.values_list("status", flat=True))
    assert statuses == [Status.DRAFT, Status.AWAITING_PAYMENT, Status.PENDING_REVIEW]
    assert shipment.events.get(status=Status.PENDING_REVIEW).actor_role == "system"
    assert shipment.pickup_instructions == "Ring twice"


def test_price_sent_by_the_client_is_ignored(alice_client, posts):
    shipment = start(alice_client, posts)
    fill(alice_client, shipment, {**posts, "parcel": {**posts["parcel"], "price": "0.01"}})
    shipment.refresh_from_db()
    assert shipment.price > Decimal("1")


def test_draft_resumes_where_it_was_left(alice_client, posts):
    shipment = start(alice_client, posts)
    fill(alice_client, shipment, posts, steps=("dropoff",))
    # Days later: the booking page lists the draft and resumes at the parcel step.
    page = alice_client.get(reverse("customer-book"))
    assert shipment.tracking_number in page.content.decode()
    assert step_url(shipment, "parcel") in page.content.decode()
    # Reloading a saved step shows what was typed.
    again = alice_client.get(step_url(shipment, "dropoff"))
    assert 'value="Kouter 7"' in again.content.decode()
    # Opening the shipment page of a draft also resumes it.
    detail = alice_client.get(reverse("customer-shipment", args=[shipment.tracking_number]))
    assert detail["Location"] == step_url(shipment, "parcel")
    # The review cannot be reached before every step is done.
    review = alice_client.get(reverse("customer-book-review", args=[shipment.tracking_number]))
    assert review["Location"] == step_url(shipment, "parcel")


def test_customer_can_keep_several_drafts_and_delete_one(alice_client, posts):
    first = start(alice_client, posts)
    alice_client.post(reverse("customer-book-new", kwargs={"step": "pickup"}), posts["pickup"])
    assert Shipment.objects.filter(status=Status.DRAFT).count() == 2
    response = alice_client.post(reverse("customer-book-delete", args=[first.tracking_number]))
    assert response.status_code == 302
    assert not Shipment.objects.filter(pk=first.pk).exists()
    assert Shipment.objects.count() == 1


def _errors_for(client, url, data):
    response = client.post(url, data)
    assert response.status_code == 200, "an invalid step must re-render, not redirect"
    return response.content.decode(), response.context["form"]


NOW = timezone.now


@pytest.mark.parametrize(
    ("step", "changes", "field", "message"),
    [
        ("pickup", {"pickup_lat": "91", "pickup_lng": "3.7"}, "pickup_lat", "not on Earth"),
        ("pickup", {"pickup_lng": "-181"}, "pickup_lat", "not on Earth"),
        ("pickup", {"pickup_lat": "", "pickup_lng": ""}, "pickup_lat", "Place a pin"),
        ("pickup", {"pickup_contact_phone": "0470 11 11 11"}, "pickup_contact_phone", "+32470"),
        ("pickup", {"pickup_address": "x" * 201}, "pickup_address", "at most 200"),
        ("pickup", {"pickup_city": ""}, "pickup_city", "required"),
        (
            "dropoff",
            {"dropoff_lat": "51.0520", "dropoff_lng": "3.7215"},
            "dropoff_address",
            "different places",
        ),
        ("parcel", {"weight_kg": "0"}, "weight_kg", "greater than or equal to 0.01"),
        ("parcel", {"weight_kg": "-2"}, "weight_kg", "greater than or equal to 0.01"),
        ("parcel", {"weight_kg": "51"}, "weight_kg", "up to 50 kg"),
        ("parcel", {"size_class": ""}, "size_class", "Choose a size"),
        ("parcel", {"size_class": "huge"}, "size_class", "Select a valid choice"),
        ("parcel", {"length_cm": "30"}, "length_cm", "all three dimensions"),
        ("parcel", {"declared_value": "999999"}, "declared_value", "between 0 and 5000"),
        ("parcel", {"description": ""}, "description", "required"),
        ("service", {"service_level": "teleport"}, "service_level", "Select a valid choice"),
    ],
)
def test_each_invalid_input_is_shown_beside_its_field(
    alice_client, posts, step, changes, field, message
):
    shipment = start(alice_client, posts)
    fill(alice_client, shipment, posts, steps=("dropoff",) if step in ("parcel", "service") else ())
    before = Shipment.objects.get(pk=shipment.pk)
    url = step_url(shipment, step)
    data = {**posts[step], **changes}
    html, form = _errors_for(alice_client, url, data)
    assert field in form.errors, form.errors
    assert message in " ".join(form.errors[field])
    assert f'id="id_{field}_error" role="alert"' in html
    # Nothing typed is lost: another field's value is still in the page.
    other = next(k for k in data if k != field and data[k] and k not in changes)
    assert f'value="{data[other]}"' in html or data[other] in html
    after = Shipment.objects.get(pk=shipment.pk)
    assert after.updated_at == before.updated_at, "an invalid step saves nothing"


def _window(**hours) -> dict[str, str]:
    """Windows `hours` from tomorrow 10:00 (local), whatever the hour the test runs at."""
    base = tomorrow_at(10)
    return {k: _local(base + timedelta(hours=v)) for k, v in hours.items()}


@pytest.mark.parametrize(
    ("window", "field", "message"),
    [
        (
            _window(
                pickup_window_start=-48,  # yesterday 10:00
                pickup_window_end=1,
                delivery_window_start=1,
                delivery_window_end=3,
            ),
            "pickup_window_start",
            "in the future",
        ),
        (
            _window(
                pickup_window_start=3,
                pickup_window_end=2,
                delivery_window_start=3,
                delivery_window_end=5,
            ),
            "pickup_window_end",
            "end after it starts",
        ),
        (
            _window(
                pickup_window_start=3,
                pickup_window_end=4,
                delivery_window_start=2,
                delivery_window_end=5,
            ),
            "delivery_window_start",
            "before the pickup window",
        ),
        (
            _window(
                pickup_window_start=3,
                pickup_window_end=4,
                delivery_window_start=5,
                delivery_window_end=5,
            ),
            "delivery_window_end",
            "end after it starts",
        ),
        (
            _window(
                pickup_window_start=24 * 90,
                pickup_window_end=24 * 90 + 1,
                delivery_window_start=24 * 90 + 1,
                delivery_window_end=24 * 90 + 2,
            ),
            "pickup_window_start",
            "days ahead",
        ),
    ],
)
def test_windows_must_be_in_the_future_and_ordered(alice_client, posts, window, field, message):
    shipment = start(alice_client, posts)
    fill(alice_client, shipment, posts, steps=("dropoff", "parcel"))
    html, form = _errors_for(
        alice_client, step_url(shipment, "service"), {**posts["service"], **window}
    )
    assert message in " ".join(form.errors[field])


def test_booking_a_draft_whose_window_passed_is_refused(alice_client, posts):
    shipment = start(alice_client, posts)
    fill(alice_client, shipment, posts)
    past = timezone.now() - timedelta(hours=1)
    Shipment.objects.filter(pk=shipment.pk).update(
        pickup_window_start=past, pickup_window_end=past + timedelta(minutes=30)
    )
    response = alice_client.post(
        reverse("customer-book-review", args=[shipment.tracking_number]),
        {"payment_method": "on_delivery"},
    )
    assert response.status_code == 200
    assert "must start in the future" in response.content.decode()
    shipment.refresh_from_db()
    assert shipment.status == Status.DRAFT


def test_dimensions_decide_a_larger_size_class(alice_client, posts):
    shipment = start(alice_client, posts)
    fill(alice_client, shipment, posts, steps=("dropoff",))
    parcel = {
        **posts["parcel"],
        "size_class": "small",
        "length_cm": "80",
        "width_cm": "50",
        "height_cm": "30",
    }
    assert alice_client.post(step_url(shipment, "parcel"), parcel).status_code == 302
    shipment.refresh_from_db()
    assert shipment.size_class == "large"


def test_card_is_not_offered_without_stripe_keys(alice_client, posts):
    shipment = start(alice_client, posts)
    fill(alice_client, shipment, posts)
    review = alice_client.get(reverse("customer-book-review", args=[shipment.tracking_number]))
    assert "Pay on delivery" in review.content.decode()
    assert 'value="card"' not in review.content.decode()
    response = alice_client.post(
        reverse("customer-book-review", args=[shipment.tracking_number]), {"payment_method": "card"}
    )
    assert response.status_code == 200
    shipment.refresh_from_db()
    assert shipment.status == Status.DRAFT


def test_a_booked_shipment_is_no_longer_editable(alice_client, posts):
    shipment = start(alice_client, posts)
    fill(alice_client, shipment, posts)
    alice_client.post(
        reverse("customer-book-review", args=[shipment.tracking_number]),
        {"payment_method": "on_delivery"},
    )
    response = alice_client.post(
        step_url(shipment, "parcel"), {**posts["parcel"], "weight_kg": "1"}
    )
    assert response["Location"] == reverse("customer-shipment", args=[shipment.tracking_number])
    shipment.refresh_from_db()
    assert shipment.weight_kg == Decimal("3.50")
