"""Reads for live tracking, always scoped to who is asking."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from drivers.models import Driver, Vehicle
from dropmate.accounts.models import User
from shipments import lifecycle
from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent
from shipments.services import actor_role
from tracking import broadcast, eta
from tracking import cache as live

# The shipments a driver is working: heading to the pickup, or carrying them.
ACTIVE = frozenset({Status.ASSIGNED, *lifecycle.ON_THE_ROAD})
# Drop-offs the driver will visit (in the van): what ETA and "next stop" are about.
CARRYING = frozenset({Status.PICKED_UP, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY})


def position_time(value: Any) -> datetime | None:
    """A position's time as stored (ISO text in the cache, a datetime on the row)."""
    if value is None or isinstance(value, datetime):
        return value
    return parse_datetime(value)


def driver_position(*, driver: Driver) -> dict[str, Any] | None:
    """The driver's latest accepted (unflagged) fix: the cache first, then the row on Driver."""
    position = live.latest_get(driver.pk)
    if position is not None:
        return position
    if driver.last_lat is None or driver.last_lng is None or driver.last_fix_at is None:
        return None
    return {
        "lat": driver.last_lat,
        "lng": driver.last_lng,
        "accuracy_m": None,
        "speed_mps": None,
        "heading": None,
        "at": driver.last_fix_at.isoformat(),
        "speed_learned": None,
    }


def position_public(position: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """The fields of a position that clients see, with its age."""
    now = now or timezone.now()
    at = position_time(position["at"])
    return {
        "lat": position["lat"],
        "lng": position["lng"],
        "accuracy_m": position.get("accuracy_m"),
        "speed_mps": position.get("speed_mps"),
        "heading": position.get("heading"),
        "at": at.isoformat() if at else None,
        "stale": eta.fix_is_stale(fix_time=at, now=now, max_age_s=settings.TRACKING_STALE_FIX_S),
    }


def driver_shipments_active(*, driver_id: int) -> QuerySet[Shipment]:
    return Shipment.objects.filter(driver_id=driver_id, status__in=ACTIVE).order_by("pk")


def driver_plan_order(*, driver_id: int) -> list[int]:
    """The shipments whose drop-offs today's route plan has the driver make, in its order
    (empty without a plan)."""
    from drivers.models import RouteStop

    return list(
        RouteStop.objects.filter(
            route__driver_id=driver_id,
            route__date=timezone.localdate(),
            kind=RouteStop.Kind.DROPOFF,
            shipment__driver_id=driver_id,
            shipment__status__in=CARRYING,
        )
        .order_by("position")
        .values_list("shipment_id", flat=True)
    )


def stops_in_order(
    *,
    position: dict[str, Any] | None,
    shipments: list[Shipment],
    plan: list[int] | None = None,
) -> list[Shipment]:
    """The drop-offs the driver still has to make, in visiting order: the route plan's order
    (`plan`: shipment ids, from driver_plan_order) when there is one, then whatever the plan
    doesn't hold nearest first from the driver's position."""
    carrying = [s for s in shipments if s.status in CARRYING and s.dropoff_point is not None]
    by_id = {s.pk: s for s in carrying}
    planned = [by_id.pop(pk) for pk in plan or () if pk in by_id]
    rest = [s for s in carrying if s.pk in by_id]
    if position is None or len(rest) < 2:
        return planned + rest
    start = planned[-1].dropoff_point if planned else (position["lat"], position["lng"])
    order = eta.order_stops(start=start, stops=[(s.pk, s.dropoff_point) for s in rest])
    return planned + [by_id[pk] for pk in order]


def next_stop_id(
    *, position: dict[str, Any] | None, shipments: list[Shipment], plan: list[int] | None = None
) -> int | None:
    ordered = stops_in_order(position=position, shipments=shipments, plan=plan)
    return ordered[0].pk if ordered else None


def customer_may_see_driver(
    *,
    shipment: Shipment,
    position: dict[str, Any] | None,
    shipments: list[Shipment],
    plan: list[int] | None = None,
) -> bool:
    """The privacy rule: a customer sees the driver only while their shipment is out for
    delivery with that driver and their stop is the next one."""
    return (
        shipment.status == Status.OUT_FOR_DELIVERY
        and shipment.driver_id is not None
        and position is not None
        and next_stop_id(position=position, shipments=shipments, plan=plan) == shipment.pk
    )


def shipment_live_position(*, shipment: Shipment, user: User) -> dict[str, Any] | None:
    """Where the driver is, for this user on this shipment, or None when they may not see it.

    Staff and the shipment's own driver see the position while the shipment is active (with a
    `stale` flag). The customer only under the privacy rule, and never a stale position.
    Anyone else: None.
    """
    if shipment.driver_id is None or shipment.status not in ACTIVE:
        return None
    role = actor_role(user)
    driver = shipment.driver
    position = driver_position(driver=driver)
    if position is None:
        return None
    if role in lifecycle.STAFF or (role == lifecycle.DRIVER and driver.user_id == user.pk):
        return position_public(position)
    if role != lifecycle.CUSTOMER or shipment.customer_id != user.pk:
        return None
    shipments = list(driver_shipments_active(driver_id=driver.pk))
    plan = driver_plan_order(driver_id=driver.pk)
    if not customer_may_see_driver(
        shipment=shipment, position=position, shipments=shipments, plan=plan
    ):
        return None
    shown = position_public(position)
    return None if shown["stale"] else shown


def shipment_eta(*, shipment: Shipment) -> dict[str, Any] | None:
    """The ETA window, or None when there is none or the driver's last fix is stale."""
    if shipment.driver_id is None or shipment.status not in CARRYING:
        return None
    stored = cache.get(live.eta_key(shipment.pk))
    if stored is None:
        return None
    fix_time = position_time(stored.get("fix_at"))
    if eta.fix_is_stale(
        fix_time=fix_time, now=timezone.now(), max_age_s=settings.TRACKING_STALE_FIX_S
    ):
        return None
    return stored


def shipment_snapshot(*, shipment: Shipment, user: User) -> dict[str, Any]:
    """Everything a live page shows, as of now: the `snapshot` frame's data."""

    def point(lat, lng):
        return None if lat is None or lng is None else {"lat": lat, "lng": lng}

    return {
        "tracking_number": shipment.tracking_number,
        "status": shipment.status,
        "status_label": shipment.get_status_display(),
        "version": shipment.version,
        "last_seq": shipment.last_seq,
        "pickup": point(shipment.pickup_lat, shipment.pickup_lng),
        "dropoff": point(shipment.dropoff_lat, shipment.dropoff_lng),
        "driver_name": shipment.driver.first_name if shipment.driver_id else None,
        "eta": shipment_eta(shipment=shipment),
        "position": shipment_live_position(shipment=shipment, user=user),
    }


def shipment_catch_up(*, shipment: Shipment, user: User, after: int) -> list[dict[str, Any]]:
    """The frames a client that last saw `after` needs to show exactly the server's state: the
    missed events in order when there are few, else one `snapshot` frame. A client that is
    ahead of the server (a reset database) also gets a snapshot."""
    shipment.refresh_from_db()
    missed = shipment.last_seq - after
    if after < 0 or missed < 0 or missed > settings.TRACKING_CATCH_UP_MAX_EVENTS:
        data = shipment_snapshot(shipment=shipment, user=user)
        return [broadcast.message("snapshot", data, seq=shipment.last_seq)]
    events = (
        ShipmentEvent.objects.filter(shipment=shipment, seq__gt=after)
        .select_related("shipment")
        .order_by("seq")
    )
    frames = [broadcast.shipment_event_message(e) for e in events]
    position = shipment_live_position(shipment=shipment, user=user)
    if position is not None:
        frames.append(broadcast.location_message(shipment.tracking_number, position))
    current_eta = shipment_eta(shipment=shipment)
    if current_eta is not None:
        frames.append(broadcast.eta_message(shipment.tracking_number, current_eta))
    return frames


def driver_state(*, on_duty: bool, statuses: set[str], position: dict | None) -> str:
    """How the fleet map colours a driver."""
    if not on_duty:
        return "off_duty"
    if position is None or position_public(position)["stale"]:
        return "no_signal"
    if statuses & CARRYING:
        return "delivering"
    if Status.ASSIGNED in statuses:
        return "to_pickup"
    return "idle"


def fleet_snapshot(*, user: User) -> dict[str, Any]:
    """Every on-duty driver (position, state) and every active shipment, for staff."""
    if actor_role(user) not in lifecycle.STAFF:
        return {"drivers": [], "shipments": []}
    drivers = list(Driver.objects.filter(on_duty=True).select_related("user", "vehicle"))
    shipments = list(
        Shipment.objects.filter(status__in=ACTIVE).select_related("driver").order_by("pk")
    )
    statuses: dict[int, set[str]] = {}
    for s in shipments:
        statuses.setdefault(s.driver_id, set()).add(s.status)
    cached = live.latest_get_many([d.pk for d in drivers])
    rows = []
    for d in drivers:
        position = cached.get(d.pk) or driver_position(driver=d)
        rows.append(
            {
                "driver_id": d.pk,
                "name": str(d),
                "vehicle": d.vehicle.name if d.vehicle_id else None,
                "vehicle_id": d.vehicle_id,
                "state": driver_state(
                    on_duty=d.on_duty, statuses=statuses.get(d.pk, set()), position=position
                ),
                "position": position_public(position) if position else None,
            }
        )
    return {
        "drivers": rows,
        "shipments": [
            {
                "tracking_number": s.tracking_number,
                "status": s.status,
                "driver_id": s.driver_id,
                "dropoff": None
                if s.dropoff_point is None
                else {"lat": s.dropoff_lat, "lng": s.dropoff_lng},
            }
            for s in shipments
        ],
    }


def vehicle_location(*, vehicle_id: int, user: User) -> dict[str, Any] | None:
    """Staff only: where the vehicle's driver is. None for anyone else or without a fix."""
    if actor_role(user) not in lifecycle.STAFF:
        return None
    vehicle = Vehicle.objects.filter(pk=vehicle_id).select_related("driver").first()
    driver = getattr(vehicle, "driver", None) if vehicle else None
    if driver is None:
        return None
    position = driver_position(driver=driver)
    if position is None:
        return None
    return {"vehicle_id": vehicle.pk, "driver_id": driver.pk, **position_public(position)}
