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


# --- Dispatch planning ------------------------------------------------------------------------


def route_planned_data(route) -> dict[str, Any]:
    """A driver's new job order: {"date", "plan", "stops": [{"position", "tracking_number",
    "kind", "planned_arrival", "window_end", "slack_s", "late", "explanation"}]}."""
    return {
        "date": route.date.isoformat(),
        "plan": str(route.plan_run.uuid) if route.plan_run_id else None,
        "driver_id": route.driver_id,
        "stops": [
            {
                "position": stop.position,
                "tracking_number": stop.shipment.tracking_number,
                "kind": stop.kind,
                "planned_arrival": stop.planned_arrival.isoformat(),
                "window_end": stop.window_end.isoformat() if stop.window_end else None,
                "slack_s": stop.slack_s,
                "late": stop.late,
                "explanation": stop.explanation,
            }
            for stop in route.stops.all()
        ],
    }


def plan_summary_data(plan_run, routes) -> dict[str, Any]:
    """For the dispatch console: the run's outcome and a line per route."""
    return {
        "date": plan_run.date.isoformat(),
        "plan": str(plan_run.uuid),
        "status": plan_run.status,
        "message": plan_run.message,
        "unassigned": plan_run.unassigned,
        "routes": [
            {"driver_id": route.driver_id, "stops": len(route.stops.all())} for route in routes
        ],
    }


def route_planned_push(*, plan_run_id: int) -> None:
    """After a plan commits: each planned driver gets `route_planned` with their new order,
    the fleet (dispatch console) gets `plan_updated`."""
    from drivers.models import PlanRun

    plan_run = PlanRun.objects.filter(pk=plan_run_id).first()
    if plan_run is None:
        return
    routes = list(plan_run.routes.select_related("plan_run").prefetch_related("stops__shipment"))
    for route in routes:
        _send(driver_group(route.driver_id), message("route_planned", route_planned_data(route)))
    _send(FLEET_GROUP, message("plan_updated", plan_summary_data(plan_run, routes)))
