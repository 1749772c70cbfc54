"""Periodic payment work. Thin: the logic is in shipments.payments."""

from celery import shared_task

from shipments.payments import payments_reconcile


@shared_task(name="shipments.tasks.payments_reconcile", ignore_result=True)
def payments_reconcile_task() -> dict[str, int]:
    """Ask Stripe about card payments stuck pending, so a lost webhook heals by itself."""
    return payments_reconcile()
