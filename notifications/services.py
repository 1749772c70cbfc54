"""Writes to the notification outbox."""

from notifications.models import Notification
from shipments.models import Shipment, ShipmentEvent


def notifications_for_shipment_event(
    *, shipment: Shipment, event: ShipmentEvent
) -> list[Notification]:
    """Write the outbox rows a shipment event causes, in the caller's transaction.

    Expects to run inside the transaction that wrote `event`. Which events notify whom, and
    the sending itself, are the notifications issue's work; until then no row is written.
    """
    return []
