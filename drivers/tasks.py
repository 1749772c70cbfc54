"""Celery tasks of the drivers app: thin callers that take ids and plain values."""

import datetime as dt

from celery import shared_task
from django.core.cache import cache

from drivers.models import PlanRun


@shared_task(name="drivers.plan_routes")
def plan_routes_task(
    *,
    date: str | None = None,
    time_budget_s: float | None = None,
    trigger: str = "manual",
    plan_run_id: int | None = None,
    actor_id: int | None = None,
    keep_assignments: bool = False,
) -> dict:
    """Plan a day in the background. A plan requested while this one runs queues another.
    Automatic re-plans pass `keep_assignments` (assigned jobs stay with their drivers)."""
    from drivers.planning import services, triggers
    from dropmate.accounts.models import User

    day = dt.date.fromisoformat(date) if date else None
    # From here on, a new event must queue a fresh run: this one may already have read.
    cache.delete(triggers.queued_key(day))
    run = PlanRun.objects.filter(pk=plan_run_id).first() if plan_run_id else None
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    result = services.plan_routes(
        date=day,
        time_budget_s=time_budget_s,
        actor=actor,
        trigger=trigger,
        run=run,
        keep_assignments=keep_assignments,
    )
    return {"ok": result.ok, "status": result.status, "message": result.message}


@shared_task(name="drivers.tasks.replayed_updates_purge_old")
def replayed_updates_purge_old() -> int:
    """Delete replay records older than DRIVER_REPLAY_RETENTION_DAYS; returns rows deleted."""
    from drivers import services

    return services.replayed_updates_purge_old()
