"""My shipments (filter, search, pagination, empty state) and the shipment page (timeline
partial for htmx polling, driver, proof of delivery for the owner only, cancel)."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from shipments.lifecycle import Status
from shipments.models import ProofOfDelivery
from tests.factories import make_shipment


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def test_empty_state_invites_to_book(logged_in):
    html = logged_in.get(reverse("customer-shipments")).content.decode()
    assert "You have no shipments yet" in html
    assert reverse("customer-book") in html


def test_filter_by_status_and_search_by_tracking_number(logged_in, alice, dan, dora):
    review = make_shipment(customer=alice, status=Status.PENDING_REVIEW, driver=dan, staff=dora)
    moving = make_shipment(customer=alice, status=Status.IN_TRANSIT, driver=dan, staff=dora)
    html = logged_in.get(reverse("customer-shipments"), {"status": "in_transit"}).content.decode()
    assert moving.tracking_number in html and review.tracking_number not in html
    typed = review.tracking_number.lower().replace("-", "")
    html = logged_in.get(reverse("customer-shipments"), {"q": typed}).content.decode()
    assert review.tracking_number in html and moving.tracking_number not in html
    html = logged_in.get(reverse("customer-shipments"), {"q": "ZZZZ"}).content.decode()
    assert "No shipment matches" in html


def test_pagination_keeps_the_filter(logged_in, alice):
    for _ in range(23):
        make_shipment(customer=alice)
    first = logged_in.get(reverse("customer-shipments"), {"status": "draft"})
    assert len(first.context["page"].object_list) == 20
    assert "status=draft&amp;page=2" in first.content.decode()
    second = logged_in.get(reverse("customer-shipments"), {"status": "draft", "page": 2})
    assert len(second.context["page"].object_list) == 3


def test_detail_shows_timeline_price_and_driver_once_assigned(logged_in, shipment_in, dan):
    shipment = shipment_in(Status.ASSIGNED)
    html = logged_in.get(
        reverse("customer-shipment", args=[shipment.tracking_number])
    ).content.decode()
    for label in ("Draft", "Awaiting payment", "Pending review", "Accepted", "Assigned"):
        assert label in html
    assert "Your driver: <strong>Dan</strong>" in html
    assert dan.vehicle.name in html
    assert dan.user.last_name not in html and dan.user.phone not in html
    assert "{% block live_tracking %}" not in html
    assert 'hx-trigger="every 15s"' in html
    assert "Cancel this shipment" in html


def test_no_driver_before_assignment(logged_in, shipment_in):
    shipment = shipment_in(Status.ACCEPTED)
    html = logged_in.get(
        reverse("customer-shipment", args=[shipment.tracking_number])
    ).content.decode()
    assert "Your driver" not in html


def test_htmx_poll_returns_only_the_status_partial(logged_in, shipment_in, dan):
    shipment = shipment_in(Status.ACCEPTED)
    url = reverse("customer-shipment", args=[shipment.tracking_number])
    from shipments import services

    services.shipment_assign(shipment=shipment, actor=None, driver=dan)
    response = logged_in.get(url, {"part": "status"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="shipment-status"')
    assert "<html" not in html
    assert "Assigned" in html


def test_no_cancel_button_once_picked_up(logged_in, shipment_in):
    shipment = shipment_in(Status.PICKED_UP)
    html = logged_in.get(
        reverse("customer-shipment", args=[shipment.tracking_number])
    ).content.decode()
    assert "Cancel this shipment" not in html
    response = logged_in.post(reverse("customer-shipment-cancel", args=[shipment.tracking_number]))
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == Status.PICKED_UP


def test_customer_cancels_before_pickup(logged_in, shipment_in):
    shipment = shipment_in(Status.PENDING_REVIEW)
    response = logged_in.post(
        reverse("customer-shipment-cancel", args=[shipment.tracking_number]),
        {"reason": "Changed my mind"},
    )
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == Status.CANCELLED
    assert shipment.events.last().note == "Changed my mind"


@pytest.fixture
def delivered_with_pod(shipment_in, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    shipment = shipment_in(Status.DELIVERED)
    ProofOfDelivery.objects.create(
        shipment=shipment,
        recipient_name="Rita Recipient",
        photo=ContentFile(b"photo-bytes", name="p.jpg"),
        signature=ContentFile(b"signature-bytes", name="s.png"),
        captured_at=timezone.now(),
    )
    return shipment


def test_proof_of_delivery_is_served_to_owner_and_staff_only(
    client, alice, bob, dan, dora, delivered_with_pod
):
    shipment = delivered_with_pod
    url = reverse("customer-shipment-pod", args=[shipment.tracking_number, "photo"])
    client.force_login(alice)
    page = client.get(
        reverse("customer-shipment", args=[shipment.tracking_number])
    ).content.decode()
    assert "Rita Recipient" in page and url in page
    assert "/media/" not in page, "POD files never get a public URL"
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"photo-bytes"
    assert "private" in response["Cache-Control"]
    for outsider in (bob, dan.user):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    client.force_login(dora)
    assert client.get(url).status_code == 200
    client.logout()
    assert client.get(url).status_code == 302
