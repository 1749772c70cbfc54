"""From the database to a routing problem: which shipments and drivers take part, what each
one means for the solver, and what is left out (with the reason in words).

Reads only. `services.plan_routes` writes.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from drivers.models import Driver, RouteStop
from drivers.planning.matrix import HaversineMatrix, MatrixError, Point, provider_from_settings
from drivers.planning.problem import DROPOFF, PICKUP, Problem, Stop, Task, Vehicle
from shipments.lifecycle import Status
from shipments.models import Shipment

PLANNABLE = (Status.ACCEPTED, Status.ASSIGNED)
ON_BOARD = (Status.PICKED_UP, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY)
# Kilograms assumed for a parcel with no weight, by size class.
DEFAULT_KG = {"small": Decimal("1"), "medium": Decimal("3"), "large": Decimal("8")}
DEFAULT_KG_XLARGE = Decimal("20")
# A window that is already gone is planned without an end, as "late" (parcels on board only).
OPEN_END = 7 * 24 * 3600


def hhmm(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%H:%M") if moment else "?"


def _kg(shipment: Shipment) -> Decimal:
    if shipment.weight_kg:
        return shipment.weight_kg
    return DEFAULT_KG.get(shipment.size_class, DEFAULT_KG_XLARGE if shipment.size_class else 1)


def _at(day: dt.date, hhmm_text: str) -> dt.datetime:
    hours, minutes = (int(x) for x in hhmm_text.split(":"))
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hours, minutes)))


@dataclass
class Snapshot:
    """Everything one planning run knows, and the mapping back from solver keys to rows."""

    day: dt.date
    epoch: dt.datetime
    day_end: dt.datetime
    problem: Problem
    points: list[Point]
    drivers: dict[int, Driver]  # vehicle key (= driver id) → driver
    shipments: dict[int, Shipment]  # task key (= shipment id) → shipment
    versions: dict[int, int]
    bound: dict[int, int] = field(default_factory=dict)  # shipment → driver it must stay on
    pinned: set[int] = field(default_factory=set)
    kept: set[int] = field(default_factory=set)
    started: set[int] = field(default_factory=set)
    # Drop-offs under way, fixed at the head of a route:
    # driver → [(shipment, location, arrival, start, departure)] in seconds.
    in_progress: dict[int, list[tuple]] = field(default_factory=dict)
    late: set[int] = field(default_factory=set)
    unassigned: dict[int, str] = field(default_factory=dict)  # shipment → reason (pre-solve)
    excluded_shipments: list[dict] = field(default_factory=list)
    excluded_drivers: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    initial: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    # Where each driver's route begins (before any drop-off under way): a point index.
    origin: dict[int, int] = field(default_factory=dict)
    matrix_name: str = ""

    def at(self, seconds: int) -> dt.datetime:
        return self.epoch + dt.timedelta(seconds=seconds)

    def seconds(self, moment: dt.datetime | None) -> int | None:
        if moment is None:
            return None
        return int((moment - self.epoch).total_seconds())


def _candidates(day: dt.date, day_start: dt.datetime, day_end: dt.datetime):
    """Shipments this day's plan considers: on board now, or waiting with a window that
    starts before the day ends (overdue ones included, to be reported), or with no window."""
    window_ref = Q(pickup_window_start__lt=day_end) | Q(
        pickup_window_start__isnull=True, delivery_window_start__lt=day_end
    )
    no_window = Q(pickup_window_start__isnull=True, delivery_window_start__isnull=True)
    return (
        Shipment.objects.select_related("driver__user", "driver__vehicle")
        .filter(Q(status__in=ON_BOARD) | Q(status__in=PLANNABLE) & (window_ref | no_window))
        .order_by("pk")
    )


def _driver_name(driver: Driver) -> str:
    return driver.user.get_full_name() or driver.user.email


def snapshot(
    *, day: dt.date, now: dt.datetime | None = None, keep_assignments: bool = False
) -> Snapshot:
    """`keep_assignments`: shipments already assigned to a driver being planned stay with
    that driver (only their order and times may change): automatic re-plans use it so a new
    order is fitted in without moving everyone else's jobs."""
    now = now or timezone.now()
    day_start = _at(day, settings.PLANNING_DAY_START)
    day_end = _at(day, settings.PLANNING_DAY_END)
    epoch = max(now, day_start) if day == timezone.localdate(now) else day_start
    service = settings.PLANNING_SERVICE_S

    points: list[Point] = []

    def place(point: Point) -> int:
        points.append(point)
        return len(points) - 1

    snap = Snapshot(
        day=day,
        epoch=epoch,
        day_end=day_end,
        problem=Problem(durations=[], vehicles=[], tasks=[]),
        points=points,
        drivers={},
        shipments={},
        versions={},
    )

    # --- Drivers ------------------------------------------------------------------------
    depot = None
    if settings.PLANNING_DEPOT_LAT is not None and settings.PLANNING_DEPOT_LNG is not None:
        depot = (settings.PLANNING_DEPOT_LAT, settings.PLANNING_DEPOT_LNG)
    vehicle_specs: dict[int, dict] = {}
    for driver in Driver.objects.select_related("user", "vehicle").filter(on_duty=True):
        name = _driver_name(driver)

        def exclude(reason: str, driver=driver, name=name) -> None:
            snap.excluded_drivers.append({"driver_id": driver.pk, "name": name, "reason": reason})

        if driver.vehicle is None:
            exclude("has no vehicle")
            continue
        if not driver.vehicle.active:
            exclude(f"vehicle {driver.vehicle} is not in service")
            continue
        if driver.last_lat is not None and driver.last_lng is not None:
            start = (driver.last_lat, driver.last_lng)
        elif driver.home_lat is not None and driver.home_lng is not None:
            start = (driver.home_lat, driver.home_lng)
        elif depot is not None:
            start = depot
        else:
            exclude("has no known position, no home point, and no depot is configured")
            continue
        until = day_end
        if driver.shift_end is not None:
            until = min(until, timezone.make_aware(dt.datetime.combine(day, driver.shift_end)))
        if until <= epoch:
            exclude(f"shift ended at {hhmm(until)}")
            continue
        snap.drivers[driver.pk] = driver
        snap.origin[driver.pk] = place(start)
        vehicle_specs[driver.pk] = {
            "start": snap.origin[driver.pk],
            "until": snap.seconds(until),
            "from": 0,
            "grams": int(driver.vehicle.capacity_kg * 1000),
            "parcels": int(driver.vehicle.capacity_parcels),
        }

    # --- Shipments ----------------------------------------------------------------------
    for shipment in _candidates(day, day_start, day_end):
        tn = shipment.tracking_number
        on_board = shipment.status in ON_BOARD
        if on_board and day != timezone.localdate(now):
            continue

        def drop(reason: str, tn=tn) -> None:
            snap.excluded_shipments.append({"tracking_number": tn, "reason": reason})

        if shipment.dropoff_point is None or (not on_board and shipment.pickup_point is None):
            drop(
                "has no coordinates for its " + ("drop-off" if shipment.pickup_point else "pickup")
            )
            continue
        bad = _window_problem(shipment)
        if bad:
            drop(bad)
            continue
        grams = int(_kg(shipment) * 1000)
        amount = (grams, 1)
        driver_id = shipment.driver_id
        if on_board:
            if driver_id not in snap.drivers:
                snap.notes.append(
                    f"{tn} is on board with {_driver_name(shipment.driver)}, who is not being "
                    "planned (off duty or no vehicle); its drop-off is left as it was."
                )
                continue
            snap.started.add(shipment.pk)
            snap.bound[shipment.pk] = driver_id
            spec = vehicle_specs[driver_id]
            location = place(shipment.dropoff_point)
            if shipment.status == Status.OUT_FOR_DELIVERY:
                # The driver is on the way there now: that stop heads the route, fixed.
                opens = snap.seconds(shipment.delivery_window_start) or 0
                snap.in_progress.setdefault(driver_id, []).append(
                    (shipment.pk, location, max(0, opens), service)
                )
                snap.shipments[shipment.pk] = shipment
                snap.versions[shipment.pk] = shipment.version
                continue
            window = _seconds_window(
                snap, shipment.delivery_window_start, shipment.delivery_window_end
            )
            snap.shipments[shipment.pk] = shipment
            snap.versions[shipment.pk] = shipment.version
            snap.problem.tasks.append(
                Task(
                    key=shipment.pk,
                    dropoff=Stop(location, service, window),
                    amount=amount,
                    vehicle=driver_id,
                    must_serve=True,
                )
            )
            continue

        pickup_window = _seconds_window(
            snap, shipment.pickup_window_start, shipment.pickup_window_end
        )
        dropoff_window = _seconds_window(
            snap, shipment.delivery_window_start, shipment.delivery_window_end
        )
        snap.shipments[shipment.pk] = shipment
        snap.versions[shipment.pk] = shipment.version
        closed = [
            (label, end)
            for label, end, window in (
                ("pickup", shipment.pickup_window_end, pickup_window),
                ("delivery", shipment.delivery_window_end, dropoff_window),
            )
            if window is not None and window[1] < 0
        ]
        pinned_to = driver_id if shipment.pinned and shipment.status == Status.ASSIGNED else None
        if pinned_to is not None:
            snap.pinned.add(shipment.pk)
            snap.bound[shipment.pk] = pinned_to
        if closed:
            label, end = closed[0]
            snap.unassigned[shipment.pk] = (
                f"Its {label} window closed at {hhmm(end)}, before this plan starts "
                f"({hhmm(epoch)})."
            )
            continue
        if pinned_to is not None and pinned_to not in snap.drivers:
            snap.unassigned[shipment.pk] = (
                f"Pinned to {_driver_name(shipment.driver)}, who is not available for planning "
                "(off duty or without a vehicle); it stays pinned."
            )
            continue
        vehicle = pinned_to
        if (
            vehicle is None
            and keep_assignments
            and shipment.status == Status.ASSIGNED
            and driver_id in snap.drivers
        ):
            vehicle = driver_id
            snap.kept.add(shipment.pk)
        snap.problem.tasks.append(
            Task(
                key=shipment.pk,
                pickup=Stop(place(shipment.pickup_point), service, pickup_window),
                dropoff=Stop(place(shipment.dropoff_point), service, dropoff_window),
                amount=amount,
                vehicle=vehicle,
            )
        )

    # --- Matrix ---------------------------------------------------------------------------
    provider = provider_from_settings()
    try:
        durations = provider.durations(points)
    except MatrixError as exc:
        fallback = HaversineMatrix(
            road_factor=settings.PLANNING_ROAD_FACTOR, speed_kmh=settings.PLANNING_SPEED_KMH
        )
        snap.notes.append(f"{exc} Travel times were estimated from straight-line distance.")
        provider = fallback
        durations = fallback.durations(points)
    snap.matrix_name = provider.name
    snap.problem.durations = durations

    # --- Vehicles, after the fixed in-progress stops -------------------------------------
    for driver_id, spec in vehicle_specs.items():
        here, free_at = spec["start"], spec["from"]
        heads = []
        for pk, location, window_opens, svc in snap.in_progress.get(driver_id, []):
            arrival = free_at + durations[here][location]
            start = max(arrival, window_opens)
            heads.append((pk, location, arrival, start, start + svc))
            here, free_at = location, start + svc
        snap.in_progress[driver_id] = heads
        # Parcels after a failed attempt stay on board until retried or returned.
        grams, parcels = spec["grams"], spec["parcels"]
        for kept in Shipment.objects.filter(driver_id=driver_id, status=Status.FAILED_ATTEMPT):
            grams -= int(_kg(kept) * 1000)
            parcels -= 1
        snap.problem.vehicles.append(
            Vehicle(
                key=driver_id,
                start=here,
                available_from=free_at,
                available_until=max(spec["until"], free_at),
                capacity=(max(0, grams), max(0, parcels)),
            )
        )

    # Parcels on board whose window can no longer be met are planned as soon as possible.
    starts = {v.key: v for v in snap.problem.vehicles}
    for i, task in enumerate(snap.problem.tasks):
        if not task.must_serve or task.dropoff.window is None:
            continue
        vehicle = starts[task.vehicle]
        earliest = vehicle.available_from + durations[vehicle.start][task.dropoff.location]
        if earliest > task.dropoff.window[1] or earliest > vehicle.available_until:
            snap.late.add(task.key)
            snap.problem.tasks[i] = Task(
                key=task.key,
                dropoff=Stop(task.dropoff.location, task.dropoff.service_s, None),
                amount=task.amount,
                vehicle=task.vehicle,
                must_serve=True,
            )
            snap.problem.vehicles = [
                v
                if v.key != task.vehicle
                else Vehicle(
                    key=v.key,
                    start=v.start,
                    available_from=v.available_from,
                    available_until=max(v.available_until, OPEN_END),
                    capacity=v.capacity,
                )
                for v in snap.problem.vehicles
            ]
            starts = {v.key: v for v in snap.problem.vehicles}

    # Warm start from the routes already planned for the day.
    keys = {t.key for t in snap.problem.tasks}
    for driver_id, shipment_id, kind in (
        RouteStop.objects.filter(route__date=day, route__driver_id__in=snap.drivers)
        .order_by("route_id", "position")
        .values_list("route__driver_id", "shipment_id", "kind")
    ):
        if shipment_id in keys and (kind == DROPOFF or shipment_id not in snap.started):
            snap.initial.setdefault(driver_id, []).append((shipment_id, kind))
    for visits in snap.initial.values():
        # A pair half-present (e.g. its pickup done since) would confuse the seed: drop it.
        tasks = {t.key: t for t in snap.problem.tasks}
        kinds: dict[int, set[str]] = {}
        for key, kind in visits:
            kinds.setdefault(key, set()).add(kind)
        visits[:] = [
            (key, kind)
            for key, kind in visits
            if kinds[key] == ({DROPOFF} if tasks[key].pickup is None else {PICKUP, DROPOFF})
        ]
    return snap


def _window_problem(shipment: Shipment) -> str:
    for label, start, end in (
        ("pickup", shipment.pickup_window_start, shipment.pickup_window_end),
        ("delivery", shipment.delivery_window_start, shipment.delivery_window_end),
    ):
        if start is not None and end is not None and end <= start:
            return f"its {label} window ends ({hhmm(end)}) before it starts ({hhmm(start)})"
    if (
        shipment.delivery_window_end is not None
        and shipment.pickup_window_start is not None
        and shipment.delivery_window_end <= shipment.pickup_window_start
    ):
        return (
            f"its delivery window ends ({hhmm(shipment.delivery_window_end)}) before the pickup "
            f"window opens ({hhmm(shipment.pickup_window_start)})"
        )
    return ""


def _seconds_window(
    snap: Snapshot, start: dt.datetime | None, end: dt.datetime | None
) -> tuple[int, int] | None:
    if start is None and end is None:
        return None
    opens = max(0, snap.seconds(start)) if start is not None else 0
    closes = snap.seconds(end) if end is not None else OPEN_END
    return (opens, closes)
