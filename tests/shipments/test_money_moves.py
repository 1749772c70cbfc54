"""Staff and customer actions that move money go through the lifecycle service and the payment
gateway in one transaction."""

import pytest

from dropmate.lib.exceptions import InvalidTransition
from shipments import services
from shipments.lifecycle import Status
from shipments.models import PaymentMethod, PaymentState, Shipment
from shipments.payments import PaymentError


def _pay_on_delivery(shipment: Shipment) -> None:
    Shipment.objects.filter(pk=shipment.pk).update(
        payment_method=PaymentMethod.ON_DELIVERY, payment_state=PaymentState.ON_DELIVERY
    )
    shipment.refresh_from_db()


def test_accepting_a_pay_on_delivery_order_keeps_it_payable_at_the_door(shipment_in, dora):
    shipment = shipment_in(Status.PENDING_REVIEW)
    _pay_on_delivery(shipment)
    accepted = services.shipment_accept(shipment=shipment, actor=dora)
    fresh = Shipment.objects.get(pk=accepted.pk)
    assert (fresh.status, fresh.payment_state) == (Status.ACCEPTED, PaymentState.ON_DELIVERY)


def test_rejecting_releases_the_payment_and_records_the_reason(shipment_in, dora):
    shipment = shipment_in(Status.PENDING_REVIEW)
    _pay_on_delivery(shipment)
    services.shipment_reject(shipment=shipment, actor=dora, reason="Outside our area")
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert (fresh.status, fresh.payment_state) == (Status.REJECTED, PaymentState.CANCELED)
    assert fresh.events.order_by("-seq").first().note == "Outside our area"


def test_customer_cancel_before_pickup_releases_an_authorisation(shipment_in, alice):
    shipment = shipment_in(Status.ACCEPTED)
    Shipment.objects.filter(pk=shipment.pk).update(payment_state=PaymentState.AUTHORIZED)
    shipment.refresh_from_db()
    services.shipment_cancel(shipment=shipment, actor=alice)
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert (fresh.status, fresh.payment_state) == (Status.CANCELLED, PaymentState.CANCELED)


def test_cancel_after_pickup_is_refused_and_money_is_untouched(shipment_in, alice):
    shipment = shipment_in(Status.PICKED_UP)
    with pytest.raises(InvalidTransition):
        services.shipment_cancel(shipment=shipment, actor=alice)
    assert Shipment.objects.get(pk=shipment.pk).payment_state == PaymentState.NONE


def test_a_gateway_failure_rolls_the_status_change_back(shipment_in, dora):
    shipment = shipment_in(Status.PENDING_REVIEW)
    # Card payments without a configured processor: the gateway refuses.
    Shipment.objects.filter(pk=shipment.pk).update(payment_method=PaymentMethod.CARD)
    shipment.refresh_from_db()
    with pytest.raises(PaymentError):
        services.shipment_accept(shipment=shipment, actor=dora)
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.PENDING_REVIEW
    assert fresh.events.filter(status=Status.ACCEPTED).count() == 0
