"""Reads of drivers and vehicles, scoped to who is asking."""

from django.db.models import F, QuerySet

from drivers.models import Driver, Vehicle
from dropmate.accounts.models import STAFF_ROLES, User
from dropmate.lib.exceptions import NotFound
from shipments import lifecycle
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
