"""The driver's job list follows the dispatch plan once there is one."""

import datetime as dt

import pytest

from drivers.selectors import driver_jobs_today
from shipments.lifecycle import Status


@pytest.fixture(autouse=True)
def _whole_day(settings, dan):
    settings.PLANNING_DAY_START, settings.PLANNING_DAY_END = "00:00", "23:59"
    dan.home_lat, dan.home_lng = 51.05, 3.72
    dan.save(update_fields=["home_lat", "home_lng"])


def test_job_list_follows_the_plan_order(shipment_in, dan, dora):
    from django.utils import timezone

    from drivers.models import Route, RouteStop
    from drivers.planning.services import plan_routes

    # Windows say a, b, c; the plan is written in the order c, a, b. The windows and the
    # planner's clock are fixed early today, so the test passes at any time of day (windows
    # from "now" ran past the day's end in the evening).
    morning = timezone.make_aware(
        dt.datetime.combine(timezone.localdate(), dt.time(6, 0)), timezone.get_current_timezone()
    )

    def job(minutes: int):
        start = morning + dt.timedelta(hours=2, minutes=minutes)
        return shipment_in(
            Status.ASSIGNED,
            pickup_window_start=start,
            pickup_window_end=start + dt.timedelta(hours=1),
            delivery_window_start=start + dt.timedelta(hours=1),
            delivery_window_end=start + dt.timedelta(hours=3),
        )

    a, b, c = job(0), job(10), job(20)
    assert [j.pk for j in driver_jobs_today(driver=dan)] == [a.pk, b.pk, c.pk]
    result = plan_routes(actor=dora, now=morning)
    assert result.ok, result.message
    route = Route.objects.get(driver=dan, date=timezone.localdate())
    planned_first = [s.shipment_id for s in route.stops.order_by("position")]
    expected = list(dict.fromkeys(planned_first))
    assert [j.pk for j in driver_jobs_today(driver=dan) if j.is_open] == expected
    # Rewrite the stops in another order: the job list follows the stored plan, not windows.
    stops = list(route.stops.order_by("position"))
    reordered = sorted(stops, key=lambda s: (s.shipment_id != c.pk, s.position))
    for position, stop in enumerate(reordered):
        RouteStop.objects.filter(pk=stop.pk).update(position=position + 1000)
    order = [j.pk for j in driver_jobs_today(driver=dan) if j.is_open]
    assert order[0] == c.pk
    assert sorted(order) == sorted([a.pk, b.pk, c.pk])
