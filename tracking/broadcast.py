"""Group names and payload shapes for everything pushed over WebSockets. Nothing else builds
them. Every push is made after the database commit; clients recover any push that is lost
through `seq` and catch-up, since Channels delivers to groups at most once."""

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from shipments.models import Shipment, ShipmentEvent

logger = logging.getLogger(__name__)

FLEET_GROUP = "fleet"
# Driver positions for the fleet map; each fleet socket coalesces them (at most one frame a
# second), so this group carries raw positions, never frames.
FLEET_POSITIONS_GROUP = "fleet.positions"
# The consumer method that forwards a ready-made message to its socket.
FORWARD = "dropmate.forward"
# A location frame for a shipment's watchers; the consumer forwards it to a customer only when
# `customer_visible` is true (the privacy rule, decided when the fix was applied).
LOCATION = "dropmate.location"
# One driver's position for the fleet consumers to coalesce (HTTP path)...
FLEET_POSITION = "dropmate.fleet_position"
# ...or several, gathered by one server process (socket path: tracking.services.live).
FLEET_POSITIONS = "dropmate.fleet_positions"


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


# --- Live tracking ---------------------------------------------------------------------------


def location_message(tracking_number: str, position: dict[str, Any]) -> dict[str, Any]:
    return message("location", {"tracking_number": tracking_number, **position})


def eta_message(tracking_number: str, eta: dict[str, Any]) -> dict[str, Any]:
    return message("eta_updated", {"tracking_number": tracking_number, "eta": eta})


def fleet_positions_message(positions: list[dict[str, Any]]) -> dict[str, Any]:
    """The coalesced fleet frame: every driver position that changed since the last one."""
    return message("fleet_positions", {"positions": positions})


def snapshot_message(data: dict[str, Any], *, seq: int | None) -> dict[str, Any]:
    return message("snapshot", data, seq=seq)


def error_message(code: str, text: str, **details: Any) -> dict[str, Any]:
    return message("error", {"code": code, "message": text, "details": details})


def fix_ack_message(result: dict[str, Any]) -> dict[str, Any]:
    return message("fix_ack", result)


def _send_many(sends: list[tuple[str, dict[str, Any]]]) -> None:
    """Several group sends in one trip to the event loop. A failed send is logged, never
    raised: the fix is already committed and clients recover through catch-up."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return

    async def send_all() -> None:
        results = await asyncio.gather(
            *(layer.group_send(group, msg) for group, msg in sends), return_exceptions=True
        )
        for result in results:
            if isinstance(result, Exception):
                logger.warning("group_send failed: %r", result)

    async_to_sync(send_all)()


def location_push(
    *,
    driver_id: int,
    position: dict[str, Any],
    shipments: list[tuple[str, bool]],
    fleet: dict[str, Any] | None = None,
) -> None:
    """Fan one accepted position out: to the fleet (coalesced there; `fleet` adds the driver's
    state) and to the watchers of each of the driver's active shipments, given as
    (tracking number, whether its customer may see the driver)."""
    fleet_position = {"driver_id": driver_id, **(fleet or position)}
    sends: list[tuple[str, dict[str, Any]]] = [
        (FLEET_POSITIONS_GROUP, {"type": FLEET_POSITION, "position": fleet_position})
    ]
    for tracking_number, customer_visible in shipments:
        sends.append(
            (
                shipment_group(tracking_number),
                {
                    "type": LOCATION,
                    "message": location_message(tracking_number, position),
                    "customer_visible": customer_visible,
                },
            )
        )
    _send_many(sends)


def eta_push(*, tracking_number: str, eta: dict[str, Any]) -> None:
    _send(shipment_group(tracking_number), eta_message(tracking_number, eta))


def driver_duty_push(*, driver_id: int, on_duty: bool) -> None:
    """The driver went on or off duty: their sockets get `duty_updated` (and the server
    processes holding them drop the duty state they keep for the location pipeline)."""
    from tracking.services import driver_context_forget

    driver_context_forget(driver_id)
    _send(driver_group(driver_id), message("duty_updated", {"on_duty": on_duty}))


def driver_message_push(*, message_id: int) -> None:
    """Push a dispatch message to its driver's sockets as `driver_message`. Call on commit."""
    from drivers.models import DriverMessage

    msg = DriverMessage.objects.select_related("sender").filter(pk=message_id).first()
    if msg is None:
        return
    data = {
        "id": msg.pk,
        "body": msg.body,
        "sender": (msg.sender.get_full_name() or "Dispatch") if msg.sender_id else "Dispatch",
        "created_at": msg.created_at.isoformat(),
    }
    _send(driver_group(msg.driver_id), message("driver_message", data, ts=msg.created_at))
