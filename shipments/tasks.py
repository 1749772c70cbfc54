"""Periodic shipment work (registered in CELERY_BEAT_SCHEDULE). Thin: the logic is in
shipments.payments and shipments.services."""

from celery import shared_task

from shipments import services
from shipments.payments import payments_reconcile


@shared_task(name="shipments.tasks.payments_reconcile", ignore_result=True)
def payments_reconcile_task() -> dict[str, int]:
    """Ask Stripe about card payments stuck pending, so a lost webhook heals by itself."""
    return payments_reconcile()


@shared_task(name="shipments.tasks.idempotency_keys_purge_old")
def idempotency_keys_purge_old() -> int:
    """Forget Idempotency-Keys older than IDEMPOTENCY_KEY_RETENTION_DAYS; returns rows deleted."""
    return services.idempotency_keys_purge_old()
