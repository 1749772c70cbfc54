"""What follows a shipment event: outbox rows in the same transaction, pushes after commit.

The lifecycle service calls `shipment_event_recorded` for every event it writes. Nothing here
runs from a model signal, and nothing leaves the process before the transaction commits.
"""

from functools import partial

from django.db import transaction

from shipments.models import Shipment, ShipmentEvent


def shipment_event_recorded(*, shipment: Shipment, event: ShipmentEvent) -> None:
    """Expects to run inside the transaction that wrote `event`."""
    from notifications.services import notifications_for_shipment_event
    from tracking import broadcast

    # Outbox rows share the event's transaction: a rollback leaves neither.
    notifications_for_shipment_event(shipment=shipment, event=event)
    transaction.on_commit(partial(broadcast.shipment_event_push, event_id=event.pk))
    if event.status == "accepted":  # a new order, or one back in the queue: re-plan the day
        from drivers.planning import triggers

        triggers.on_shipment_accepted(shipment.pk)
