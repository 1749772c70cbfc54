"""Reads of drivers and vehicles, scoped to who is asking."""

from datetime import timedelta

from django.db.models import Case, F, QuerySet, When
from django.utils import timezone

from drivers.models import Driver, DriverMessage, Vehicle
from dropmate.accounts.models import STAFF_ROLES, User
from dropmate.lib.exceptions import NotFound
from shipments import lifecycle, tracking_numbers
from shipments.lifecycle import Status
from shipments.models import Shipment


def _is_staff(user: User) -> bool:
    return user.is_superuser or user.role in STAFF_ROLES


def drivers_list(*, on_duty: bool | None = None) -> QuerySet[Driver]:
    """For staff only (callers check the role)."""
    qs = Driver.objects.select_related("user", "vehicle")
    if on_duty is not None:
        qs = qs.filter(on_duty=on_duty)
    return qs.order_by("user__first_name", "user__email", "pk")


def vehicles_list(*, active: bool | None = None) -> QuerySet[Vehicle]:
    """For staff only (callers check the role)."""
    qs = Vehicle.objects.select_related("driver__user")
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("name", "pk")


def driver_get_for_user(*, user: User, driver_id: int) -> Driver:
    """Staff may read any driver; a driver only themselves. Everyone else: NotFound."""
    driver = Driver.objects.select_related("user", "vehicle").filter(pk=driver_id).first()
    if driver is None or not (_is_staff(user) or driver.user_id == user.pk):
        raise NotFound("No such driver.")
    return driver


def driver_assignments(*, driver: Driver, statuses: list[str] | None = None) -> QuerySet[Shipment]:
    """The driver's jobs, by default those not finished yet (assigned or on the road), in the
    order of their delivery windows."""
    active = {lifecycle.Status.ASSIGNED, *lifecycle.ON_THE_ROAD}
    return (
        Shipment.objects.select_related("customer", "driver__user", "driver__vehicle")
        .filter(driver=driver, status__in=statuses or active)
        .order_by(F("delivery_window_start").asc(nulls_last=True), "created_at", "pk")
    )


# --- the driver app -------------------------------------------------------------------------
# Jobs still to do: offered (assigned) or on the road.
OPEN_STATUSES = frozenset({Status.ASSIGNED, *lifecycle.ON_THE_ROAD})


def driver_for_user(*, user: User) -> Driver:
    driver = Driver.objects.select_related("user", "vehicle").filter(user=user).first()
    if driver is None:
        raise NotFound("No driver profile for this account.")
    return driver


def driver_jobs_today(*, driver: Driver) -> list[Shipment]:
    """Open jobs in route order, then those finished today.

    Route order is the dispatch plan's order when today has one (a job's place is its first
    remaining stop); jobs the plan does not cover follow, by the time window that matters
    next: the pickup window until the parcel is picked up, then the delivery window.
    """
    start_of_day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    qs: QuerySet[Shipment] = (
        Shipment.objects.filter(driver=driver)
        .select_related("customer")
        .annotate(
            window_next=Case(
                When(status=Status.ASSIGNED, then=F("pickup_window_start")),
                default=F("delivery_window_start"),
            )
        )
    )
    open_jobs = list(
        qs.filter(status__in=OPEN_STATUSES).order_by(
            F("window_next").asc(nulls_last=True), "created_at", "pk"
        )
    )
    done = list(
        qs.filter(status__in=lifecycle.TERMINAL, status_changed_at__gte=start_of_day).order_by(
            "-status_changed_at"
        )[:50]
    )
    from drivers.planning.selectors import driver_route_order

    planned: dict[int, int] = {}
    for stop in driver_route_order(driver=driver):
        planned.setdefault(stop.shipment_id, len(planned))
    if planned:
        # sorted() is stable: unplanned jobs keep their window order after the planned ones.
        open_jobs.sort(key=lambda job: planned.get(job.pk, len(planned)))
    for job in open_jobs:
        job.is_open = True
    for job in done:
        job.is_open = False
    return open_jobs + done


def driver_job_get(*, driver: Driver, tracking_number: str) -> Shipment:
    """One of the driver's jobs; NotFound for anyone else's, whether or not it exists."""
    canonical = tracking_numbers.normalize(tracking_number)
    shipment = (
        Shipment.objects.select_related("customer", "driver__user")
        .filter(driver=driver, tracking_number=canonical)
        .first()
        if canonical
        else None
    )
    if shipment is None:
        raise NotFound("No such shipment.")
    return shipment


def driver_messages(*, driver: Driver, days: int = 7, limit: int = 50) -> list[DriverMessage]:
    since = timezone.now() - timedelta(days=days)
    return list(
        DriverMessage.objects.filter(driver=driver, created_at__gte=since)
        .select_related("sender")
        .order_by("-created_at")[:limit]
    )


def driver_unread_count(*, driver: Driver) -> int:
    return DriverMessage.objects.filter(driver=driver, read_at__isnull=True).count()
