"""Celery tasks: thin callers of `notifications.delivery` and `notifications.monitoring`.

The send task is acknowledged late and rejected back to the queue if its worker dies
(settings also set these project-wide, with prefetch 1), so a message is never lost between a
worker taking it and finishing it; the conditional claim makes the redelivery harmless.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready

from notifications import checks, delivery, monitoring

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="notifications.send",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def send_notification(self, notification_id: int) -> None:
    delay = delivery.notification_deliver(
        notification_id=notification_id, wait=not self.request.is_eager
    )
    if delay is not None:
        delivery.enqueue(notification_id=notification_id, countdown=delay)


@shared_task(name="notifications.sweep", ignore_result=True)
def sweep_notifications() -> dict[str, int]:
    return delivery.notifications_sweep()


@shared_task(name="notifications.check_late_shipments", ignore_result=True)
def check_late_shipments() -> int:
    return monitoring.check_late_shipments()


@shared_task(name="notifications.check_silent_drivers", ignore_result=True)
def check_silent_drivers() -> int:
    return monitoring.check_silent_drivers()


@shared_task(name="notifications.check_failed_notifications", ignore_result=True)
def check_failed_notifications() -> int:
    return monitoring.check_failed_notifications()


@worker_ready.connect
def _warn_about_eviction(**_kwargs) -> None:
    for warning in checks.redis_eviction_warnings():
        log.warning("%s %s", warning.msg, warning.hint or "")
