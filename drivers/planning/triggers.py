"""Automatic re-planning of the not-yet-started part of the day.

`on_shipment_accepted` and `on_driver_off_duty` are called by the code that makes those
changes (the accept trigger is wired in `shipments.effects`). Each queues a Celery task after
the transaction commits, with the re-plan time budget, so no request waits for the solver.
Only a day that already has a plan is re-planned: nothing happens before dispatch first
plans (a button, the admin action or `manage.py plan_routes`).
"""

import datetime as dt
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from drivers.models import Route

# While a re-plan is queued and not yet started, more events need no second one.
QUEUED_TTL_S = 120


def queued_key(day: dt.date | None) -> str:
    return f"planning:replan-queued:{(day or timezone.localdate()).isoformat()}"


def replan_soon(*, trigger: str, day: dt.date | None = None) -> None:
    """Queue a re-plan of `day` (default today) after commit, at most one waiting at a time.
    Nothing is scheduled when automatic re-planning is off or the day has no plan yet."""
    day = day or timezone.localdate()
    if not settings.PLANNING_AUTO_REPLAN or not Route.objects.filter(date=day).exists():
        return
    transaction.on_commit(partial(_enqueue, trigger=trigger, day=day))


def _enqueue(*, trigger: str, day: dt.date) -> bool:
    if not cache.add(queued_key(day), trigger, timeout=QUEUED_TTL_S):
        return False
    from drivers.tasks import plan_routes_task

    plan_routes_task.delay(
        date=day.isoformat(),
        time_budget_s=settings.PLANNING_REPLAN_TIME_BUDGET_S,
        trigger=trigger,
        keep_assignments=True,
    )
    return True


def on_shipment_accepted(shipment_id: int) -> None:
    """A new order joined the queue (or came back to it): re-plan today after commit."""
    replan_soon(trigger=f"accepted:{shipment_id}")


def on_driver_off_duty(driver_id: int) -> None:
    """A driver left: their not-yet-started jobs go to others (pinned ones stay, and parcels
    already on board stay with them). Call inside the transaction that set on_duty=False."""
    replan_soon(trigger=f"off_duty:{driver_id}")
