"""After planning, the driver's socket gets the new job order and the fleet socket (dispatch
console) gets the plan: real consumers, on the in-memory layer and on Redis pub/sub."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from drivers.planning.services import plan_routes
from shipments.lifecycle import Status
from tests.planning.conftest import today_at
from tests.tracking.conftest import layer  # noqa: F401  (the layer fixture, both kinds)
from tests.tracking.wsclient import Socket

pytestmark = pytest.mark.django_db(transaction=True)

NO_WINDOWS = {
    "pickup_window_start": None,
    "pickup_window_end": None,
    "delivery_window_start": None,
    "delivery_window_end": None,
}


@pytest.fixture(autouse=True)
def _working_day(settings, dan):
    settings.PLANNING_DAY_START, settings.PLANNING_DAY_END = "08:00", "20:00"
    dan.home_lat, dan.home_lng = 51.05, 3.72
    dan.save(update_fields=["home_lat", "home_lng"])


def test_planning_pushes_the_job_order_to_the_driver_and_the_plan_to_the_console(
    layer,  # noqa: F811
    shipment_in,
    dan,
    erin,
    dora,
):
    jobs = [shipment_in(Status.ACCEPTED, **NO_WINDOWS) for _ in range(2)]

    async def scenario():
        driver = await Socket(dan.user, "/ws/driver/").open()
        other = await Socket(erin.user, "/ws/driver/").open()
        fleet = await Socket(dora, "/ws/fleet/").open()
        # Today, planned as at 09:00: with the real clock the day had run out late at night.
        result = await database_sync_to_async(plan_routes)(actor=dora, now=today_at(9))
        assert result.ok, result.message
        planned = await driver.until("route_planned", timeout=5)
        order = [stop["tracking_number"] for stop in planned["data"]["stops"]]
        assert set(order) == {job.tracking_number for job in jobs}
        assert len(order) == 4  # a pickup and a drop-off per job
        summary = await fleet.until("plan_updated", timeout=5)
        assert summary["data"]
        # erin has no route: nothing about dan's plan reaches her socket.
        assert [f for f in await other.frames(0.3) if f.get("type") == "route_planned"] == []
        for sock in (driver, other, fleet):
            await sock.close()

    async_to_sync(scenario)()
