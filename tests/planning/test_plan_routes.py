"""plan_routes end to end on the database. `city.plan()` runs our checker on every plan."""

from decimal import Decimal

from drivers.models import PlanRun, Route
from drivers.planning import services, solver
from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.factories import DriverFactory
from tests.planning.conftest import advance


def _reasons(result) -> dict[str, str]:
    return {row["tracking_number"]: row["reason"] for row in result.unassigned}


def test_each_order_goes_to_the_nearest_driver_pickup_first(city):
    dan = city.driver(0, 0, name="Dan")
    erin = city.driver(8, 8, name="Erin")
    near_dan = city.order((0, 1), (1, 0))
    near_erin = city.order((8, 9), (9, 8))
    result = city.plan()
    assert result.ok, result.message
    near_dan.refresh_from_db()
    near_erin.refresh_from_db()
    assert (near_dan.status, near_dan.driver) == (Status.ASSIGNED, dan)
    assert (near_erin.status, near_erin.driver) == (Status.ASSIGNED, erin)
    assert city.stops(dan) == [
        (near_dan.tracking_number, "pickup"),
        (near_dan.tracking_number, "dropoff"),
    ]
    event = near_dan.events.order_by("-seq").first()
    assert event.actor is None and event.actor_role == "system"


def test_every_stop_explains_its_driver_and_slack(city):
    dan = city.driver(0, 0, name="Dan")
    city.driver(3, 0, name="Erin")
    city.order((0, 1), (1, 0), pickup_hours=(9, 10))
    city.plan()
    stop = Route.objects.get(driver=dan, date=city.day).stops.get(kind="pickup")
    assert "cheapest plan puts it on Dan" in stop.explanation
    assert "Next best: Erin" in stop.explanation
    assert stop.next_best_extra_s > 0
    # Served at 09:00 when the window opens; it closes at 10:00.
    assert stop.slack_s == 3600
    assert "1 h 00 min to spare" in stop.explanation


def test_too_heavy_for_every_vehicle_is_unassigned_with_reason(city):
    city.driver(0, 0, kg="80")
    heavy = city.order(kg="45")
    fits = city.order(kg="45")
    Shipment.objects.filter(pk=heavy.pk).update(weight_kg=Decimal("120"))
    result = city.plan()
    assert _reasons(result)[heavy.tracking_number] == (
        "No vehicle on duty can carry it (120 kg; the largest takes 80 kg)."
    )
    assert fits.tracking_number not in _reasons(result)


def test_window_impossible_from_any_driver_is_unassigned_with_reason(city):
    city.driver(0, 0)
    # 30 km away, to be picked up within 10 minutes of the day's start.
    far = city.order((30, 0), (31, 0), pickup_hours=(8, 8.17), delivery_hours=(8, 12))
    result = city.plan()
    reason = _reasons(result)[far.tracking_number]
    assert reason.startswith("Its time window cannot be met from any driver's position")
    assert "08:10" in reason
    far.refresh_from_db()
    assert far.status == Status.ACCEPTED


def test_past_every_shift_end_is_unassigned_with_reason(city):
    import datetime as dt

    city.driver(0, 0, shift_end=dt.time(10, 0))
    late = city.order(pickup_hours=(11, 12), delivery_hours=(11, 14))
    result = city.plan()
    reason = _reasons(result)[late.tracking_number]
    assert "cannot be finished before any driver's shift ends (the latest ends at 10:00)" in (
        reason
    )


def test_window_already_closed_is_unassigned_with_reason(city):
    city.driver(0, 0)
    missed = city.order(pickup_hours=(9, 11))
    result = city.plan(hours=12)  # planning at noon on the day
    assert _reasons(result)[missed.tracking_number] == (
        "Its pickup window closed at 11:00, before this plan starts (12:00)."
    )


def test_no_driver_on_duty(city):
    order = city.order()
    result = city.plan()
    assert _reasons(result)[order.tracking_number] == "No driver is on duty with a vehicle."


def test_bad_input_is_left_out_with_reasons_never_a_crash(city):
    city.driver(0, 0)
    no_vehicle = DriverFactory(vehicle=None, user__first_name="Vic")
    nowhere = DriverFactory(user__first_name="Nora", home_lat=None, home_lng=None)
    no_coordinates = city.order(pickup_lat=None, pickup_lng=None)
    inverted = city.order(pickup_hours=(11, 12), delivery_hours=(9, 10))
    fine = city.order()
    result = city.plan()
    assert result.ok
    shipments = {row["tracking_number"]: row["reason"] for row in result.excluded["shipments"]}
    assert shipments[no_coordinates.tracking_number] == "has no coordinates for its pickup"
    assert shipments[inverted.tracking_number] == (
        "its delivery window ends (10:00) before the pickup window opens (11:00)"
    )
    drivers = {row["driver_id"]: row["reason"] for row in result.excluded["drivers"]}
    assert drivers[no_vehicle.pk] == "has no vehicle"
    assert "no known position" in drivers[nowhere.pk]
    fine.refresh_from_db()
    assert fine.status == Status.ASSIGNED


def test_pinned_shipment_stays_with_its_driver_even_when_another_is_nearer(city, dora):
    city.driver(0, 0, name="Dan")
    erin = city.driver(6, 0, name="Erin")
    pinned = city.pin(city.order((0, 1), (1, 0), status=Status.ASSIGNED, driver=erin))
    city.plan()
    pinned.refresh_from_db()
    assert pinned.driver == erin
    stop = Route.objects.get(driver=erin, date=city.day).stops.get(kind="pickup")
    assert stop.explanation.startswith("Pinned to Erin")


def test_pinned_shipment_that_cannot_fit_stays_assigned_with_reason(city):
    city.driver(0, 0, name="Dan")
    erin = city.driver(6, 0, name="Erin", kg="10")
    pinned = city.pin(city.order(kg="9", status=Status.ASSIGNED, driver=erin))
    Shipment.objects.filter(pk=pinned.pk).update(weight_kg=Decimal("30"))
    result = city.plan()
    pinned.refresh_from_db()
    assert (pinned.status, pinned.driver) == (Status.ASSIGNED, erin)
    assert _reasons(result)[pinned.tracking_number].startswith("Pinned to Erin")


def test_parcel_on_board_stays_with_its_driver_and_is_not_picked_up_again(city):
    dan = city.driver(0, 0, name="Dan")
    erin = city.driver(9, 9, name="Erin")
    # Erin picked it up; Dan is much nearer its drop-off, but a started stop never moves.
    carried = city.order((9, 9), (0, 1), status=Status.ASSIGNED, driver=erin)
    advance(carried, Status.IN_TRANSIT)
    city.plan(hours=8)
    # (The checker in city.plan already refuses a moved or re-picked parcel.)
    assert city.stops(erin) == [(carried.tracking_number, "dropoff")]
    assert city.stops(dan) == []


def test_drop_off_under_way_heads_the_route(city):
    dan = city.driver(0, 0, name="Dan")
    under_way = city.order((0, 1), (5, 5), status=Status.ASSIGNED, driver=dan)
    advance(under_way, Status.OUT_FOR_DELIVERY)
    waiting = city.order((0, 0.5), (0, 1))
    city.plan(hours=8)
    assert city.stops(dan)[0] == (under_way.tracking_number, "dropoff")
    assert (waiting.tracking_number, "pickup") in city.stops(dan)


def test_replan_after_a_new_order_keeps_the_plan_valid(city):
    drivers = [city.driver(x, 0) for x in (0, 4, 8)]
    orders = [city.order((i % 9, 1), ((i * 3) % 9, 2)) for i in range(9)]
    first = city.plan()
    assert first.unassigned == []
    new = city.order((4, 1), (4, 3))
    second = city.plan(budget=1.0)
    assert second.unassigned == []
    for order in [*orders, new]:
        order.refresh_from_db()
        assert order.status == Status.ASSIGNED and order.driver in drivers


def test_replan_after_pickup_keeps_the_parcel_on_its_driver(city):
    dan = city.driver(0, 0, name="Dan")
    city.driver(1, 0, name="Erin")
    order = city.order((0, 1), (1, 1))
    city.plan()
    order.refresh_from_db()
    driver = order.driver
    advance(order, Status.PICKED_UP)
    city.plan(hours=9)
    order.refresh_from_db()
    assert order.driver == driver
    assert city.stops(driver) == [(order.tracking_number, "dropoff")]
    assert driver == dan  # nearest to the pickup


def test_replan_after_driver_goes_off_duty(city):
    dan = city.driver(0, 0, name="Dan")
    erin = city.driver(2, 0, name="Erin")
    a = city.order((0, 1), (0, 2))
    b = city.order((0, 1.5), (0, 2.5))
    city.plan()
    for s in (a, b):
        s.refresh_from_db()
    on_dan = [s for s in (a, b) if s.driver == dan]
    assert on_dan, "Dan should have been given the orders next to him"
    carried = on_dan[0]
    advance(carried, Status.PICKED_UP)
    type(dan).objects.filter(pk=dan.pk).update(on_duty=False)
    result = city.plan(hours=9)
    for s in (a, b):
        s.refresh_from_db()
    assert carried.driver == dan  # on board: never moved
    for s in (a, b):
        if s.pk != carried.pk:
            assert s.driver == erin
    assert any("on board with Dan" in note for note in result.notes)


def test_time_budget_is_respected(city):
    import time

    for x in range(5):
        city.driver(x * 2, 0)
    for i in range(40):
        city.order(((i * 7) % 11, (i * 5) % 9), ((i * 3) % 10, (i * 11) % 7))
    started = time.perf_counter()
    result = services.plan_routes(date=city.day, time_budget_s=1.5, now=city.at(7))
    elapsed = time.perf_counter() - started
    assert result.ok and result.unassigned == []
    # The solver's search stops inside the budget; reading, explaining and writing the 40
    # assignments fit in what it leaves (plus slack: 8 agents share this 2-core machine).
    assert result.stats["solve_time_s"] < 1.5
    assert elapsed < 1.5 * 1.5, result.stats


def test_solver_failure_leaves_the_current_plan_in_place(city, monkeypatch):
    dan = city.driver(0, 0)
    order = city.order()
    city.plan()
    before = city.stops(dan)
    city.order((1, 1), (2, 2))

    def broken(*args, **kwargs):
        raise solver.SolverError("The solver failed: out of memory.")

    monkeypatch.setattr(solver, "solve", broken)
    result = services.plan_routes(date=city.day, now=city.at(7))
    assert not result.ok
    assert result.message == (
        "The solver failed: out of memory. The current plan was left in place."
    )
    assert city.stops(dan) == before
    order.refresh_from_db()
    assert order.driver == dan
    assert PlanRun.objects.filter(status=PlanRun.Status.KEPT).count() == 1


def test_a_shipment_changing_while_solving_keeps_the_current_plan(city, dora, monkeypatch):
    city.driver(0, 0)
    order = city.order()
    other = city.order((1, 1), (2, 2))
    real = solver.solve

    def solve_while_dispatch_cancels(*args, **kwargs):
        from shipments.services import shipment_cancel

        shipment_cancel(shipment=other, actor=dora, reason="customer called")
        return real(*args, **kwargs)

    monkeypatch.setattr(solver, "solve", solve_while_dispatch_cancels)
    result = services.plan_routes(date=city.day, now=city.at(7))
    assert not result.ok
    assert "changed while planning" in result.message
    order.refresh_from_db()
    assert order.status == Status.ACCEPTED
    assert not Route.objects.exists()


def test_parcel_on_board_past_its_window_is_planned_late_not_dropped(city):
    dan = city.driver(0, 0, name="Dan")
    carried = city.order(
        (0, 1),
        (3, 3),
        pickup_hours=(8, 9),
        delivery_hours=(8, 10),
        status=Status.ASSIGNED,
        driver=dan,
    )
    advance(carried, Status.IN_TRANSIT)
    city.plan(hours=11)
    stop = Route.objects.get(driver=dan, date=city.day).stops.get(shipment=carried)
    assert stop.kind == "dropoff" and stop.late
    assert "can no longer be met" in stop.explanation


def test_automatic_replan_fits_a_new_order_without_moving_assigned_jobs(city):
    drivers = [city.driver(x, 0) for x in (0, 3, 6)]
    orders = [city.order((i % 7, 1), ((i * 2) % 7, 2)) for i in range(8)]
    city.plan()
    before = {}
    for order in orders:
        order.refresh_from_db()
        before[order.pk] = order.driver_id
    new = city.order((3, 1), (3, 2))
    result = city.plan(budget=1.0, keep_assignments=True)
    assert result.unassigned == []
    for order in orders:
        order.refresh_from_db()
        assert order.driver_id == before[order.pk]
    new.refresh_from_db()
    assert new.driver in drivers
    stop = Route.objects.get(driver=orders[0].driver, date=city.day).stops.filter(
        shipment=orders[0]
    )[0]
    assert stop.explanation.startswith("Kept on")
