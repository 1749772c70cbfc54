"""Every customer-portal view for every persona: the owner gets the page, another customer
and other roles get 404 (never 403), a visitor is sent to log in."""

import pytest
from django.urls import reverse

from shipments.lifecycle import Status

# (url name, needs a shipment in this status, method, what the owner gets)
VIEWS = [
    ("customer-book", None, "get", 200),
    ("customer-book-new", None, "get", 200),
    ("customer-shipments", None, "get", 200),
    ("customer-book-geocode", None, "get", 404),  # no geocoder configured: "no match"
    ("customer-book-step", Status.DRAFT, "get", 200),
    ("customer-book-review", Status.DRAFT, "get", 200),
    ("customer-book-delete", Status.DRAFT, "post", 302),
    ("customer-shipment", Status.PENDING_REVIEW, "get", 200),
    ("customer-shipment-cancel", Status.PENDING_REVIEW, "post", 302),
    ("customer-shipment-pay", Status.PENDING_REVIEW, "get", 302),
    ("customer-shipment-pay-back", Status.AWAITING_PAYMENT, "post", 302),
    ("customer-shipment-pod", Status.DELIVERED, "get", 404),  # no file was uploaded
]


def _url(name, shipment):
    if name == "customer-book-new":
        return reverse(name, kwargs={"step": "pickup"})
    if name == "customer-book-step":
        return reverse(name, kwargs={"tracking": shipment.tracking_number, "step": "parcel"})
    if name == "customer-shipment-pod":
        return reverse(name, kwargs={"tracking": shipment.tracking_number, "kind": "photo"})
    if shipment is None:
        return reverse(name)
    return reverse(name, kwargs={"tracking": shipment.tracking_number})


@pytest.fixture
def personas(alice, bob, dan, dora, ada):
    return {
        "owner": alice,
        "other_customer": bob,
        "driver": dan.user,
        "dispatcher": dora,
        "admin": ada,
    }


@pytest.mark.parametrize(("name", "status", "method", "owner_gets"), VIEWS)
@pytest.mark.parametrize(
    "who", ["owner", "other_customer", "driver", "dispatcher", "admin", "anonymous"]
)
def test_customer_views_by_persona(
    client, personas, shipment_in, name, status, method, owner_gets, who
):
    shipment = shipment_in(status) if status else None
    if who != "anonymous":
        client.force_login(personas[who])
    url = _url(name, shipment)
    response = getattr(client, method)(url)
    if who == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    elif who == "owner" or (who == "other_customer" and shipment is None):
        # A page without a shipment in it is every customer's own page.
        assert response.status_code == owner_gets
    elif name == "customer-shipment-pod" and who in ("dispatcher", "admin"):
        assert response.status_code == 404  # staff may see it, but there is no file
    else:
        assert response.status_code == 404, f"{who} must get 404 on {name}"
    if shipment is not None and who != "owner":
        shipment.refresh_from_db()
        assert shipment.status == status, "a refused request changes nothing"


def test_other_customer_cannot_post_a_wizard_step_on_a_draft(client, bob, shipment_in, posts):
    draft = shipment_in(Status.DRAFT)
    client.force_login(bob)
    url = reverse(
        "customer-book-step", kwargs={"tracking": draft.tracking_number, "step": "parcel"}
    )
    assert client.post(url, posts["parcel"]).status_code == 404
    review = reverse("customer-book-review", args=[draft.tracking_number])
    assert client.post(review, {"payment_method": "on_delivery"}).status_code == 404
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT and draft.description == "Flowers"


def test_my_shipments_lists_only_mine(client, alice, bob, shipment_in):
    mine = shipment_in(Status.PENDING_REVIEW)
    from tests.factories import make_shipment

    theirs = make_shipment(customer=bob, status=Status.PENDING_REVIEW)
    client.force_login(alice)
    html = client.get(reverse("customer-shipments")).content.decode()
    assert mine.tracking_number in html
    assert theirs.tracking_number not in html


def test_csrf_is_enforced_on_customer_forms(alice, posts):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    response = strict.post(reverse("customer-book-new", kwargs={"step": "pickup"}), posts["pickup"])
    assert response.status_code == 403


def test_profile_needs_login_and_shows_only_own(client, alice, bob):
    response = client.get(reverse("customer-profile"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(bob)
    html = client.get(reverse("customer-profile")).content.decode()
    assert "bob@example.com" in html and "alice@example.com" not in html
