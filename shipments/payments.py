"""Payments behind one adapter. `gateway_for(shipment)` picks the processor by the shipment's
payment method: pay on delivery (the embedded default, no processor) or card (Stripe, when
configured). Only the gateway talks to a processor; only the services here and the verified
webhook handler write `payment_state`."""

from typing import Protocol

from shipments.models import PaymentMethod, PaymentState, Shipment


class PaymentError(Exception):
    """The processor refused or could not be reached; the caller's transaction rolls back."""


class PaymentGateway(Protocol):
    def capture(self, shipment: Shipment) -> str: ...

    def release(self, shipment: Shipment) -> str: ...

    def refund(self, shipment: Shipment) -> str: ...


class OnDeliveryGateway:
    """Cash or card terminal at the door: nothing to capture or release online."""

    def capture(self, shipment: Shipment) -> str:
        return PaymentState.ON_DELIVERY

    def release(self, shipment: Shipment) -> str:
        return PaymentState.CANCELED

    def refund(self, shipment: Shipment) -> str:
        return PaymentState.CANCELED


def gateway_for(shipment: Shipment) -> PaymentGateway:
    if shipment.payment_method == PaymentMethod.CARD:
        raise PaymentError("Card payments are not configured on this server.")
    return OnDeliveryGateway()
