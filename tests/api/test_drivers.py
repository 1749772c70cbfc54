"""GET /api/v1/drivers, /api/v1/drivers/{id}/assignments and /api/v1/vehicles."""

import pytest
from django.utils import timezone

from drivers.models import Driver, Vehicle
from shipments.lifecycle import Status
from tests.api.conftest import error_code
from tests.factories import DriverFactory, VehicleFactory, make_shipment


def test_staff_list_drivers_with_vehicle_and_position(api, dan, erin):
    Driver.objects.filter(pk=dan.pk).update(
        last_lat=51.05, last_lng=3.72, last_fix_at=timezone.now()
    )
    response = api["dora"].get("/api/v1/drivers")
    assert response.status_code == 200
    rows = {d["id"]: d for d in response.json()["results"]}
    assert set(rows) == {dan.pk, erin.pk}
    assert rows[dan.pk]["first_name"] == "Dan"
    assert rows[dan.pk]["vehicle"]["plate"] == dan.vehicle.plate
    assert rows[dan.pk]["last_position"]["lat"] == 51.05
    assert rows[dan.pk]["last_position"]["at"].endswith("Z")
    assert rows[erin.pk]["last_position"] is None


def test_drivers_filter_on_duty(api, dan, erin):
    Driver.objects.filter(pk=erin.pk).update(on_duty=False)
    off = api["ada"].get("/api/v1/drivers", {"on_duty": "false"}).json()["results"]
    on = api["ada"].get("/api/v1/drivers", {"on_duty": "true"}).json()["results"]
    every = api["ada"].get("/api/v1/drivers").json()["results"]
    assert [d["id"] for d in off] == [erin.pk]
    assert [d["id"] for d in on] == [dan.pk]
    assert len(every) == 2
    bad = api["ada"].get("/api/v1/drivers", {"on_duty": "maybe"})
    assert bad.status_code == 400 and "on_duty" in bad.json()["error"]["details"]


@pytest.mark.parametrize("who", ["alice", "dan"])
def test_non_staff_may_not_list_drivers_or_vehicles(api, who):
    for url in ("/api/v1/drivers", "/api/v1/vehicles"):
        response = api[who].get(url)
        assert response.status_code == 403
        assert error_code(response) == "forbidden"


def test_anonymous_gets_401_on_driver_lists(api):
    for url in ("/api/v1/drivers", "/api/v1/vehicles"):
        assert api["anon"].get(url).status_code == 401


def test_drivers_are_paginated(api, dan, erin):
    for _ in range(3):
        DriverFactory()
    body = api["dora"].get("/api/v1/drivers", {"page_size": 3}).json()
    assert body["count"] == 5 and len(body["results"]) == 3 and body["next"]
    rest = api["dora"].get(body["next"]).json()
    assert len(rest["results"]) == 2 and rest["next"] is None
    ids = {d["id"] for d in body["results"]} | {d["id"] for d in rest["results"]}
    assert ids == set(Driver.objects.values_list("pk", flat=True))


# --- assignments -------------------------------------------------------------------------------


@pytest.fixture
def jobs(alice, dan, erin, dora):
    return {
        "assigned": make_shipment(customer=alice, status=Status.ASSIGNED, driver=dan, staff=dora),
        "on_road": make_shipment(customer=alice, status=Status.IN_TRANSIT, driver=dan, staff=dora),
        "done": make_shipment(customer=alice, status=Status.DELIVERED, driver=dan, staff=dora),
        "erins": make_shipment(customer=alice, status=Status.ASSIGNED, driver=erin, staff=dora),
    }


def assignments(client, driver, **params):
    return client.get(f"/api/v1/drivers/{driver.pk}/assignments", params)


def tns(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {s["tracking_number"] for s in response.json()["results"]}


@pytest.mark.parametrize("who", ["dan", "dora", "ada"])
def test_driver_and_staff_read_the_drivers_open_jobs(api, jobs, dan, who):
    expected = {jobs["assigned"].tracking_number, jobs["on_road"].tracking_number}
    assert tns(assignments(api[who], dan)) == expected


def test_assignments_filter_by_status(api, jobs, dan):
    response = assignments(api["dora"], dan, status="delivered")
    assert tns(response) == {jobs["done"].tracking_number}
    bad = assignments(api["dora"], dan, status="gone")
    assert bad.status_code == 400


@pytest.mark.parametrize("who", ["erin", "alice", "bob"])
def test_others_get_404_for_a_drivers_assignments(api, jobs, dan, who):
    response = assignments(api[who], dan)
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_unknown_driver_is_404(api):
    assert api["dora"].get("/api/v1/drivers/999999/assignments").status_code == 404


# --- vehicles ----------------------------------------------------------------------------------


def test_staff_list_vehicles_with_their_driver(api, dan, erin):
    spare = VehicleFactory(name="Spare bike", kind="bike", active=False)
    response = api["dora"].get("/api/v1/vehicles")
    assert response.status_code == 200
    rows = {v["id"]: v for v in response.json()["results"]}
    assert rows[dan.vehicle_id]["driver"]["first_name"] == "Dan"
    assert rows[dan.vehicle_id]["capacity_kg"] == "500.00"
    assert rows[spare.pk]["driver"] is None
    inactive = api["dora"].get("/api/v1/vehicles", {"active": "false"}).json()["results"]
    assert [v["id"] for v in inactive] == [spare.pk]
    assert len(rows) == Vehicle.objects.count() == 3  # dan's, erin's and the spare
