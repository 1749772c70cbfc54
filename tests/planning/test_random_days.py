"""Randomly generated days (hypothesis): whatever the mix of drivers, windows, weights, pinned
and started shipments, every plan passes our checker and every shipment is accounted for."""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.planning import checker, solver
from drivers.planning.problem import Problem, Stop, Task, Vehicle
from shipments.lifecycle import Status
from tests.planning.conftest import advance

coord = st.floats(min_value=-6, max_value=6, allow_nan=False)
hour = st.integers(min_value=7, max_value=18)

order_strategy = st.fixed_dictionaries(
    {
        "pickup": st.tuples(coord, coord),
        "dropoff": st.tuples(coord, coord),
        "opens": hour,
        "pickup_len": st.sampled_from([0.5, 1, 2, 3]),
        "delivery_len": st.sampled_from([1, 2, 4]),
        "kg": st.sampled_from(["1", "5", "20", "60"]),
        "fate": st.sampled_from(
            ["waiting", "waiting", "waiting", "assigned", "pinned", "on_board"]
        ),
        "driver": st.integers(min_value=0, max_value=3),
    }
)
driver_strategy = st.fixed_dictionaries(
    {
        "at": st.tuples(coord, coord),
        "kg": st.sampled_from(["40", "100", "500"]),
        "shift_end": st.one_of(st.none(), st.sampled_from([dt.time(12), dt.time(17)])),
    }
)


@pytest.mark.django_db
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    drivers=st.lists(driver_strategy, min_size=1, max_size=4),
    orders=st.lists(order_strategy, min_size=1, max_size=10),
)
def test_random_day_plans_pass_the_checker(city, drivers, orders):
    with transaction.atomic():
        fleet = [city.driver(*d["at"], kg=d["kg"], shift_end=d["shift_end"]) for d in drivers]
        made = []
        for o in orders:
            driver = fleet[o["driver"] % len(fleet)]
            waiting = o["fate"] == "waiting"
            shipment = city.order(
                o["pickup"],
                o["dropoff"],
                pickup_hours=(o["opens"], o["opens"] + o["pickup_len"]),
                delivery_hours=(o["opens"], o["opens"] + o["pickup_len"] + o["delivery_len"]),
                kg="1" if o["fate"] == "on_board" else o["kg"],
                status=Status.ACCEPTED if waiting else Status.ASSIGNED,
                driver=driver,
            )
            if o["fate"] == "pinned":
                city.pin(shipment)
            if o["fate"] == "on_board":
                advance(shipment, Status.PICKED_UP)
            made.append(shipment)
        # city.plan runs the checker on what was written and fails on any broken rule.
        result = city.plan(budget=0.5, hours=8)
        assert result.ok, result.message
        accounted = {row["tracking_number"] for row in result.unassigned}
        accounted |= {row["tracking_number"] for row in result.excluded["shipments"]}
        for route in result.routes:
            accounted |= {stop["tracking_number"] for stop in route["stops"]}
        for shipment in made:
            shipment.refresh_from_db()
            assert shipment.tracking_number in accounted
            if shipment.status == Status.ACCEPTED:
                assert shipment.tracking_number in {r["tracking_number"] for r in result.unassigned}
        transaction.set_rollback(True)


@settings(max_examples=25, deadline=None)
@given(
    n_vehicles=st.integers(min_value=1, max_value=4),
    raw=st.lists(
        st.tuples(
            st.integers(0, 11),
            st.integers(0, 11),
            st.integers(0, 4000),
            st.integers(200, 3000),
            st.integers(1, 6),
            st.booleans(),
        ),
        min_size=1,
        max_size=14,
    ),
    data=st.data(),
)
def test_solver_answers_pass_the_checker_on_random_problems(n_vehicles, raw, data):
    """Solver level, no database: pairs, carried parcels, bound tasks, tight capacities."""
    size = 12
    durations = [
        [abs(i - j) * 97 + (i * j) % 13 * (i != j) for j in range(size)] for i in range(size)
    ]
    vehicles = [
        Vehicle(key=10 + k, start=k % size, available_from=0, available_until=9000, capacity=(8,))
        for k in range(n_vehicles)
    ]
    tasks = []
    for i, (p, d, opens, length, amount, carried) in enumerate(raw):
        bound = data.draw(st.sampled_from([None, *[v.key for v in vehicles]]))
        if carried:
            tasks.append(
                Task(
                    key=i,
                    dropoff=Stop(d, 60, (opens, opens + length + 4000)),
                    amount=(amount,),
                    vehicle=bound or vehicles[0].key,
                )
            )
        else:
            tasks.append(
                Task(
                    key=i,
                    pickup=Stop(p, 60, (opens, opens + length)),
                    dropoff=Stop(d, 60, (opens, opens + 2 * length)),
                    amount=(amount,),
                    vehicle=bound,
                )
            )
    problem = Problem(durations=durations, vehicles=vehicles, tasks=tasks)
    solution = solver.solve(problem, time_budget_s=0.2, exploration_level=2)
    assert checker.check(problem, solution) == []


def test_checker_refuses_broken_plans():
    from drivers.planning.problem import DROPOFF, PICKUP, Solution, schedule

    durations = [[0, 100, 200], [100, 0, 100], [200, 100, 0]]
    vehicle = Vehicle(key=1, start=0, available_from=0, available_until=10_000, capacity=(5,))
    other = Vehicle(key=2, start=0, available_from=0, available_until=10_000, capacity=(5,))
    pair = Task(key=7, pickup=Stop(1, 10, (0, 500)), dropoff=Stop(2, 10, (0, 150)), amount=(3,))
    heavy = Task(key=8, pickup=Stop(1), dropoff=Stop(2), amount=(4,))
    problem = Problem(durations=durations, vehicles=[vehicle, other], tasks=[pair, heavy])

    def plan(visits, unassigned=(), on=1):
        routes = {1: [], 2: []}
        routes[on] = schedule(problem, problem.vehicle(on), visits)
        return Solution(routes=routes, unassigned=list(unassigned))

    backwards = plan([(7, DROPOFF), (7, PICKUP)], unassigned=[8])
    assert any("drop-off before pickup" in p for p in checker.check(problem, backwards))
    too_much = plan([(7, PICKUP), (8, PICKUP), (7, DROPOFF), (8, DROPOFF)])
    assert any("over capacity" in p for p in checker.check(problem, too_much))
    slow = plan([(7, PICKUP), (7, DROPOFF)], unassigned=[8])
    assert any("after its window closes" in p for p in checker.check(problem, slow))
    moved = plan([(8, PICKUP), (8, DROPOFF)], unassigned=[7], on=2)
    assert any("moved off vehicle 1" in p for p in checker.check(problem, moved, bound={8: 1}))
    forgotten = plan([(8, PICKUP), (8, DROPOFF)])
    assert any("neither planned nor reported" in p for p in checker.check(problem, forgotten))
    split = Solution(
        routes={
            1: schedule(problem, vehicle, [(8, PICKUP)]),
            2: schedule(problem, other, [(8, DROPOFF)]),
        },
        unassigned=[7],
    )
    assert any("different vehicles" in p for p in checker.check(problem, split))
    fine = plan([(8, PICKUP), (8, DROPOFF)], unassigned=[7])
    assert checker.check(problem, fine) == []
