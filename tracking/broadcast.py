"""Group names and payload shapes for everything pushed over WebSockets. Nothing else builds
them. Every push is made after the database commit; clients recover any push that is lost
through `seq` and catch-up, since Channels delivers to groups at most once."""

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from shipments.models import Shipment, ShipmentEvent

FLEET_GROUP = "fleet"
# The consumer method that forwards a ready-made message to its socket.
FORWARD = "dropmate.forward"


def shipment_group(tracking_number: str) -> str:
    return f"shipment.{tracking_number}"


def driver_group(driver_id: int) -> str:
    return f"driver.{driver_id}"


def message(type_: str, data: dict[str, Any], *, seq: int | None = None, ts=None) -> dict[str, Any]:
    """The one frame shape clients receive: {"type", "seq", "ts", "data"}."""
    return {
        "type": type_,
        "seq": seq,
        "ts": (ts or timezone.now()).isoformat(),
        "data": data,
    }


def event_data(event: ShipmentEvent) -> dict[str, Any]:
    shipment = event.shipment
    return {
        "tracking_number": shipment.tracking_number,
        "kind": event.kind,
        "status": event.status,
        "status_label": event.get_status_display(),
        "from_status": event.from_status,
        "note": event.note,
        "version": event.version,
        "at": event.created_at.isoformat(),
    }


def shipment_event_message(event: ShipmentEvent) -> dict[str, Any]:
    type_ = (
        "shipment_assigned" if event.kind == ShipmentEvent.Kind.ASSIGNMENT else "shipment_updated"
    )
    return message(type_, event_data(event), seq=event.seq, ts=event.created_at)


def _send(group: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(group, {"type": FORWARD, "message": payload})


def shipment_event_push(*, event_id: int) -> None:
    """Push one committed event to the shipment's watchers, the fleet and its driver."""
    event = ShipmentEvent.objects.select_related("shipment").filter(pk=event_id).first()
    if event is None:  # deleted draft
        return
    payload = shipment_event_message(event)
    shipment: Shipment = event.shipment
    _send(shipment_group(shipment.tracking_number), payload)
    if shipment.status != "draft":
        _send(FLEET_GROUP, payload)
    for driver_id in {shipment.driver_id, event.data.get("previous_driver_id")} - {None}:
        _send(driver_group(driver_id), payload)
