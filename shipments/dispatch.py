"""Reads for dispatch: the console's queues, drivers with their load, and who to assign.

Selectors only: nothing here writes. Status changes go through `shipments.services`.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from drivers.models import Driver
from dropmate.lib.geo import haversine_km
from shipments.lifecycle import ON_THE_ROAD, Status
from shipments.models import Shipment

# A driver's current load: jobs assigned to them and not finished.
ACTIVE_FOR_DRIVER = frozenset({Status.ASSIGNED, *ON_THE_ROAD})
# Where a job may still go wrong: between acceptance and the doorstep.
OPEN = frozenset({Status.ACCEPTED, *ACTIVE_FOR_DRIVER})


def _base() -> QuerySet[Shipment]:
    return Shipment.objects.select_related("customer", "driver__user", "driver__vehicle")


def queue_awaiting_review() -> QuerySet[Shipment]:
    """Paid (or pay-on-delivery) orders waiting for a dispatcher, oldest first."""
    return _base().filter(status=Status.PENDING_REVIEW).order_by("created_at")


def queue_unassigned() -> QuerySet[Shipment]:
    """Accepted orders with no driver yet, the most urgent window first."""
    return (
        _base()
        .filter(status=Status.ACCEPTED)
        .order_by(Coalesce("pickup_window_end", "delivery_window_end", "created_at"))
    )


def at_risk_condition(*, now=None) -> Q:
    """Late or nearly late against the delivery window, a driver on a job gone silent, or a
    job due today held by a driver who is off duty (a re-plan leaves jobs nobody else can
    take with their driver: someone must reassign them)."""
    now = now or timezone.now()
    due = now + timedelta(minutes=settings.DROPMATE_AT_RISK_MINUTES)
    silent = now - timedelta(minutes=settings.DROPMATE_DRIVER_SILENT_MINUTES)
    late = Q(delivery_window_end__isnull=False, delivery_window_end__lte=due)
    quiet = Q(status__in=ON_THE_ROAD) & (
        Q(driver__last_fix_at__isnull=True) | Q(driver__last_fix_at__lt=silent)
    )
    tonight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    tonight += timedelta(days=1)
    off_duty = Q(status__in=ACTIVE_FOR_DRIVER, driver__on_duty=False) & (
        Q(delivery_window_start__isnull=True) | Q(delivery_window_start__lt=tonight)
    )
    return Q(status__in=OPEN) & (late | quiet | off_duty)


def queue_at_risk(*, now=None) -> QuerySet[Shipment]:
    return _base().filter(at_risk_condition(now=now)).order_by("delivery_window_end")


def drivers_with_load(*, on_duty_only: bool = True) -> QuerySet[Driver]:
    """Drivers with `load` (active jobs), `load_kg` and `jobs` (their active shipments, the
    next stop first)."""
    active = Q(shipments__status__in=ACTIVE_FOR_DRIVER)
    jobs = Shipment.objects.filter(status__in=ACTIVE_FOR_DRIVER).order_by(
        Coalesce("delivery_window_end", "created_at")
    )
    qs = (
        Driver.objects.select_related("user", "vehicle")
        .annotate(
            load=Count("shipments", filter=active),
            load_kg=Coalesce(Sum("shipments__weight_kg", filter=active), Decimal("0")),
        )
        .prefetch_related(Prefetch("shipments", queryset=jobs, to_attr="jobs"))
    )
    if on_duty_only:
        qs = qs.filter(on_duty=True)
    return qs


def next_stop(driver: Driver) -> str:
    """Where the driver goes next: the pickup of a job not yet collected, else the drop-off.
    Expects `driver` from `drivers_with_load` (its `jobs` prefetched)."""
    jobs = getattr(driver, "jobs", [])
    if not jobs:
        return ""
    job = jobs[0]
    if job.status == Status.ASSIGNED:
        return f"Pickup {job.pickup_address}, {job.pickup_city} ({job.tracking_number})"
    return f"Drop-off {job.dropoff_address}, {job.dropoff_city} ({job.tracking_number})"


@dataclass(frozen=True)
class Suggestion:
    driver: Driver
    distance_km: float | None


def _position(driver: Driver) -> tuple[float, float] | None:
    if driver.last_lat is not None and driver.last_lng is not None:
        return (driver.last_lat, driver.last_lng)
    if driver.home_lat is not None and driver.home_lng is not None:
        return (driver.home_lat, driver.home_lng)
    return None


def _has_capacity(driver: Driver, shipment: Shipment) -> bool:
    vehicle = driver.vehicle
    if vehicle is None or not vehicle.active:
        return False
    if driver.load >= vehicle.capacity_parcels:
        return False
    weight = shipment.weight_kg or Decimal("0")
    return driver.load_kg + weight <= vehicle.capacity_kg


def driver_suggest(*, shipment: Shipment, drivers: list[Driver] | None = None) -> Suggestion | None:
    """The nearest on-duty driver (by last known position, else home) to the pickup whose
    vehicle still has room for this shipment; None when nobody fits. Pass `drivers` from
    `drivers_with_load()` to suggest for many shipments with one query."""
    candidates = list(drivers_with_load()) if drivers is None else drivers
    pickup = shipment.pickup_point
    best: Suggestion | None = None
    for driver in candidates:
        if driver.pk == shipment.driver_id or not _has_capacity(driver, shipment):
            continue
        position = _position(driver)
        distance = haversine_km(position, pickup) if position and pickup else None
        if best is None or (
            distance is not None and (best.distance_km is None or distance < best.distance_km)
        ):
            best = Suggestion(driver=driver, distance_km=distance)
    return best
