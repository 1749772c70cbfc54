"""Periodic tasks of live tracking (registered in CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from tracking import services


@shared_task(name="tracking.tasks.fixes_purge_old")
def fixes_purge_old() -> int:
    """Delete location history older than TRACKING_RETENTION_DAYS; returns rows deleted."""
    return services.fixes_purge_old()
