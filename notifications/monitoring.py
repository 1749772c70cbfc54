"""Periodic checks that alert staff (run by Celery beat; schedules in settings):
late shipments, on-duty drivers who went silent, notifications that failed for good.
Each alert is written once per situation (its idempotency scope says which)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from drivers.models import Driver
from notifications.models import Notification
from notifications.rendering import site_url
from notifications.services import notify_staff
from shipments.lifecycle import Status
from shipments.models import Shipment

NOT_PICKED_UP = (Status.ACCEPTED, Status.ASSIGNED)
NOT_DELIVERED = (*NOT_PICKED_UP, Status.PICKED_UP, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY)


def late_shipments(*, now: datetime) -> list[tuple[Shipment, str, datetime]]:
    """(shipment, "pickup" or "delivery", when that window ended) for shipments past a window
    by more than NOTIFY_LATE_GRACE_MINUTES."""
    cutoff = now - timedelta(minutes=settings.NOTIFY_LATE_GRACE_MINUTES)
    qs = (
        Shipment.objects.filter(
            Q(status__in=NOT_DELIVERED, delivery_window_end__lt=cutoff)
            | Q(status__in=NOT_PICKED_UP, pickup_window_end__lt=cutoff)
        )
        .select_related("customer", "driver__user")
        .order_by("delivery_window_end")[: settings.NOTIFY_SWEEP_BATCH]
    )
    out = []
    for shipment in qs:
        if (
            shipment.status in NOT_PICKED_UP
            and shipment.pickup_window_end
            and (shipment.pickup_window_end < cutoff)
        ):
            out.append((shipment, "pickup", shipment.pickup_window_end))
        else:
            out.append((shipment, "delivery", shipment.delivery_window_end))
    return out


def check_late_shipments(*, now: datetime | None = None) -> int:
    """Alert staff once per shipment and window. Returns how many shipments are late."""
    now = now or timezone.now()
    found = late_shipments(now=now)
    for shipment, which, ended in found:
        with transaction.atomic():
            notify_staff(
                event_key="shipment_late",
                shipment=shipment,
                extra={"dedupe": f"late.s{shipment.pk}.{which}", "which": which, "ended": ended},
            )
    return len(found)


def check_silent_drivers(*, now: datetime | None = None) -> int:
    """Alert staff about each on-duty driver with no fix for NOTIFY_DRIVER_SILENT_MINUTES,
    once per silence (a new fix starts a new one). Returns how many are silent."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.NOTIFY_DRIVER_SILENT_MINUTES)
    silent = Driver.objects.filter(on_duty=True).filter(
        Q(last_fix_at__lt=cutoff) | Q(last_fix_at__isnull=True, on_duty_since__lt=cutoff)
    )
    count = 0
    for driver in silent.select_related("user")[: settings.NOTIFY_SWEEP_BATCH]:
        since = driver.last_fix_at or driver.on_duty_since
        count += 1
        with transaction.atomic():
            notify_staff(
                event_key="driver_silent",
                extra={
                    "dedupe": f"silent.d{driver.pk}.{int(since.timestamp())}",
                    "driver_name": str(driver),
                    "minutes": int((now - since).total_seconds() // 60),
                    "last_fix_at": driver.last_fix_at,
                    "admin_url": site_url("admin:drivers_driver_change", args=[driver.pk]),
                },
            )
    return count


def check_failed_notifications() -> int:
    """One staff alert listing the notifications that failed for good since the last alert.
    Returns how many new failures it reported."""
    last_alert = (
        Notification.objects.filter(event_key="notification_failed").order_by("-pk").first()
    )
    reported_upto = last_alert.payload.get("context", {}).get("upto", 0) if last_alert else 0
    failed = list(
        Notification.objects.filter(status=Notification.Status.FAILED, pk__gt=reported_upto)
        .exclude(event_key="notification_failed")
        .select_related("recipient")
        .order_by("pk")[:200]
    )
    if not failed:
        return 0
    upto = failed[-1].pk
    items = [
        f"#{n.pk} {n.event_key} to {n.to_address or n.recipient} by {n.channel}: "
        f"{n.last_error[:100]}"
        for n in failed[:20]
    ]
    with transaction.atomic():
        notify_staff(
            event_key="notification_failed",
            extra={
                "dedupe": f"failed.upto{upto}",
                "upto": upto,
                "count": len(failed),
                "items": items,
                "admin_url": site_url("admin:notifications_notification_changelist")
                + "?status__exact=failed",
            },
        )
    return len(failed)
