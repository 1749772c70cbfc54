"""The automatic re-plan a driver starts by going off duty: their jobs not yet started go to
drivers on duty (or are reported with a reason), parcels they carry stay with them.

The trigger re-plans *today*, so these tests run today with the clock at local midday: the
time zone is chosen from the current UTC hour (08:00–20:00 is the working day), so they pass
at any hour."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from drivers.models import Driver, PlanRun, Route
from drivers.planning import services, solver
from drivers.planning.triggers import queued_key
from drivers.services import driver_duty_set
from dropmate.celery import app as celery_app
from shipments.lifecycle import Status
from tests.planning.conftest import advance


@pytest.fixture
def today(settings, city):
    """`city` planning today, with the local time between 12:00 and 13:00."""
    offset = 12 - dt.datetime.now(dt.UTC).hour  # -11..12 hours east of UTC
    # POSIX-style names: Etc/GMT-5 is five hours *east* of UTC.
    settings.TIME_ZONE = f"Etc/GMT{-offset:+d}" if offset else "UTC"
    city.day = timezone.localdate()
    assert 12 <= timezone.localtime().hour <= 13
    cache.delete(queued_key(city.day))
    yield city
    cache.delete(queued_key(city.day))


@pytest.fixture
def eager_celery():
    """Tasks run in-process whatever the broker (CI sets a real one)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def _planned_day(city, *, erin_kg: str = "500", kg: str = "2"):
    """Dan has three jobs near him (none started) and a route for today; Erin is on duty."""
    dan = city.driver(0, 0, name="Dan")
    erin = city.driver(2, 0, name="Erin", kg=erin_kg)
    jobs = [
        city.order(
            (0, 1 + i * 0.3),
            (0, 2 + i * 0.3),
            kg=kg,
            pickup_hours=None,
            delivery_hours=None,
            status=Status.ASSIGNED,
            driver=dan,
        )
        for i in range(3)
    ]
    first = services.plan_routes(date=city.day, time_budget_s=1.0, keep_assignments=True)
    assert first.ok and first.unassigned == []
    assert {s for s, _kind in city.stops(dan)} == {j.tracking_number for j in jobs}
    return dan, erin, jobs


def _off_duty(driver: Driver, capture) -> PlanRun:
    with capture(execute=True):
        driver_duty_set(driver=driver, on_duty=False)
    return PlanRun.objects.get(trigger=f"off_duty:{driver.pk}")


@pytest.mark.django_db
def test_going_off_duty_moves_waiting_jobs_to_a_driver_on_duty_and_keeps_parcels_on_board(
    today, eager_celery, django_capture_on_commit_callbacks
):
    dan, erin, jobs = _planned_day(today)
    carried = advance(jobs[0], Status.PICKED_UP)

    run = _off_duty(dan, django_capture_on_commit_callbacks)

    assert run.status == PlanRun.Status.DONE, run.message
    assert run.unassigned == []
    carried.refresh_from_db()
    assert (carried.status, carried.driver) == (Status.PICKED_UP, dan)
    for job in jobs[1:]:
        job.refresh_from_db()
        assert (job.status, job.driver) == (Status.ASSIGNED, erin)
    assert sorted(today.stops(erin)) == sorted(
        (j.tracking_number, kind) for j in jobs[1:] for kind in ("pickup", "dropoff")
    )
    # Dan's route keeps only the parcel he carries; dispatch is told why it is left alone.
    assert today.stops(dan) == [(carried.tracking_number, "dropoff")]
    assert any(carried.tracking_number in n for n in run.excluded["notes"])


@pytest.mark.django_db
def test_off_duty_jobs_nobody_can_take_are_reported_with_the_reason(
    today, eager_celery, django_capture_on_commit_callbacks
):
    dan, erin, jobs = _planned_day(today, erin_kg="5", kg="10")

    run = _off_duty(dan, django_capture_on_commit_callbacks)

    reasons = {row["tracking_number"]: row["reason"] for row in run.unassigned}
    assert set(reasons) == {j.tracking_number for j in jobs}
    for job in jobs:
        reason = reasons[job.tracking_number]
        assert reason.startswith("No vehicle on duty can carry it (10 kg")
        assert "is not being planned (off duty or no vehicle)" in reason
        assert "until dispatch reassigns it" in reason
        # The planner may reassign but not unassign (Unassign is staff's or the driver's
        # move): the job stays Dan's, off every route, until dispatch acts on the report.
        job.refresh_from_db()
        assert (job.status, job.driver) == (Status.ASSIGNED, dan)
    assert today.stops(dan) == [] and today.stops(erin) == []


@pytest.mark.django_db
def test_a_replan_that_overlaps_going_off_duty_gives_the_driver_nothing(
    today, eager_celery, django_capture_on_commit_callbacks, monkeypatch
):
    """A re-plan for a new order reads Dan on duty; he goes off duty while it searches. It
    must not write its (stale) plan, which keeps his jobs on him: with two workers the
    off-duty re-plan can run beside it and lose the write, leaving them there."""
    dan, erin, jobs = _planned_day(today)
    new = today.order((0, 0.5), (0, 1.5), pickup_hours=None, delivery_hours=None)
    real_solve = solver.solve
    pressed = []

    def solve_while_dan_goes_off_duty(*args, **kwargs):
        if not pressed:
            pressed.append(True)
            driver_duty_set(driver=dan, on_duty=False)
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(solver, "solve", solve_while_dan_goes_off_duty)
    with django_capture_on_commit_callbacks() as queued:
        result = services.plan_routes(
            date=today.day,
            time_budget_s=1.0,
            trigger=f"accepted:{new.pk}",
            keep_assignments=True,
        )

    assert not result.ok
    assert "Dan" in result.message and "went off duty while planning" in result.message
    new.refresh_from_db()
    assert new.status == Status.ACCEPTED and new.driver is None
    assert {s for s, _kind in today.stops(dan)} == {j.tracking_number for j in jobs}

    # After commit: the off-duty re-plan (and the retry of the lost run) move everything.
    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:
            callback()
    for job in [*jobs, new]:
        job.refresh_from_db()
        assert (job.status, job.driver) == (Status.ASSIGNED, erin)
    assert today.stops(dan) == []
    assert Route.objects.get(driver=dan, date=today.day).stops.count() == 0
    triggers = set(PlanRun.objects.values_list("trigger", flat=True))
    assert {f"off_duty:{dan.pk}", f"retry:accepted:{new.pk}"} <= triggers
