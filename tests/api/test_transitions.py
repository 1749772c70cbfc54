"""POST /api/v1/shipments/{t}/transitions: through the lifecycle service and its wrappers;
409 with the current version when stale or impossible."""

import pytest

from shipments.lifecycle import Status
from shipments.models import PaymentState, Shipment
from tests.api.conftest import error_code
from tests.factories import DriverFactory


def move(client, shipment, **body):
    return client.post(
        f"/api/v1/shipments/{shipment.tracking_number}/transitions", body, format="json"
    )


def test_staff_accept_through_the_accept_wrapper(api, shipment_in):
    shipment = shipment_in(Status.PENDING_REVIEW)
    response = move(api["dora"], shipment, to="accepted", version=shipment.version)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "accepted" and body["version"] == shipment.version + 1
    fresh = Shipment.objects.get(pk=shipment.pk)
    # shipment_accept captured: pay-on-delivery says so.
    assert fresh.payment_state == PaymentState.ON_DELIVERY
    assert fresh.events.last().actor.email == "dispatch@dropmate.local"


def test_staff_reject_needs_a_reason(api, shipment_in):
    shipment = shipment_in(Status.PENDING_REVIEW)
    missing = move(api["dora"], shipment, to="rejected", version=shipment.version)
    assert missing.status_code == 400
    assert missing.json()["error"]["details"] == {"field": "reason"}
    done = move(api["dora"], shipment, to="rejected", version=shipment.version, reason="Too far")
    assert done.status_code == 200
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.REJECTED
    assert fresh.events.last().note == "Too far"


def test_customer_cancels_their_own(api, shipment_in):
    shipment = shipment_in(Status.AWAITING_PAYMENT)
    response = move(api["alice"], shipment, to="cancelled", version=shipment.version)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["allowed_transitions"] == []


def test_staff_assign_and_reassign_with_a_driver(api, shipment_in):
    shipment = shipment_in(Status.ACCEPTED)
    fred = DriverFactory(user__first_name="Fred")
    response = move(api["dora"], shipment, to="assigned", version=shipment.version, driver=fred.pk)
    assert response.status_code == 200
    assert response.json()["driver"] == {"id": fred.pk, "first_name": "Fred"}
    assert Shipment.objects.get(pk=shipment.pk).driver == fred


@pytest.mark.parametrize("driver", [None, 999999])
def test_assign_without_an_existing_driver_is_400(api, shipment_in, driver):
    shipment = shipment_in(Status.ACCEPTED)
    body = {"to": "assigned", "version": shipment.version}
    if driver:
        body["driver"] = driver
    response = move(api["dora"], shipment, **body)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"field": "driver"}


def test_driver_walks_the_road(api, shipment_in):
    shipment = shipment_in(Status.ASSIGNED)
    version = shipment.version
    for to in ("picked_up", "in_transit", "out_for_delivery", "delivered"):
        response = move(api["dan"], shipment, to=to, version=version, lat=51.05, lng=3.72)
        assert response.status_code == 200, response.json()
        version = response.json()["version"]
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.DELIVERED and fresh.version == version
    assert fresh.events.get(status="picked_up").lat == 51.05


def test_driver_unassign_goes_through_plain_transition(api, shipment_in):
    shipment = shipment_in(Status.ASSIGNED)
    response = move(api["dan"], shipment, to="accepted", version=shipment.version, reason="Flat")
    assert response.status_code == 200
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.ACCEPTED and fresh.driver is None
    # Unassigning is not accepting an order: no payment capture happened.
    assert fresh.payment_state == PaymentState.NONE


def test_stale_version_is_409_with_the_current_version(api, shipment_in):
    shipment = shipment_in(Status.PENDING_REVIEW)
    first = move(api["dora"], shipment, to="accepted", version=shipment.version)
    assert first.status_code == 200
    stale = move(api["ada"], shipment, to="cancelled", version=shipment.version)
    assert stale.status_code == 409
    assert error_code(stale) == "stale_version"
    assert stale.json()["error"]["details"] == {
        "current_status": "accepted",
        "current_version": shipment.version + 1,
    }
    assert Shipment.objects.get(pk=shipment.pk).status == Status.ACCEPTED


def test_impossible_move_is_409_conflict(api, shipment_in):
    shipment = shipment_in(Status.DELIVERED)
    response = move(api["dora"], shipment, to="cancelled", version=shipment.version)
    assert response.status_code == 409
    assert error_code(response) == "conflict"
    assert response.json()["error"]["details"]["current_version"] == shipment.version


def test_a_move_the_role_may_not_make_is_403(api, shipment_in):
    shipment = shipment_in(Status.PENDING_REVIEW)
    response = move(api["alice"], shipment, to="accepted", version=shipment.version)
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


@pytest.mark.parametrize("who", ["bob", "erin"])
def test_others_get_404(api, shipment_in, who):
    shipment = shipment_in(Status.ASSIGNED)
    response = move(api[who], shipment, to="cancelled", version=shipment.version)
    assert response.status_code == 404
    assert Shipment.objects.get(pk=shipment.pk).status == Status.ASSIGNED


def test_anonymous_gets_401(api, shipment_in):
    shipment = shipment_in(Status.ASSIGNED)
    assert move(api["anon"], shipment, to="cancelled", version=1).status_code == 401


@pytest.mark.parametrize(
    "body, field",
    [
        ({"version": 1}, "to"),
        ({"to": "lost", "version": 1}, "to"),
        ({"to": "cancelled"}, "version"),
        ({"to": "cancelled", "version": 0}, "version"),
        ({"to": "cancelled", "version": "x"}, "version"),
        ({"to": "cancelled", "version": 1, "reason": "x" * 501}, "reason"),
        ({"to": "assigned", "version": 1, "driver": 0}, "driver"),
        ({"to": "picked_up", "version": 1, "lat": 95}, "lat"),
    ],
)
def test_invalid_bodies_are_400(api, shipment_in, body, field):
    shipment = shipment_in(Status.ACCEPTED)
    response = move(api["dora"], shipment, **body)
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert Shipment.objects.get(pk=shipment.pk).version == shipment.version
