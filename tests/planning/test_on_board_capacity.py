"""A parcel already on board always counts against the van's capacity, even when the solver
left its drop-off out (it could not fit the shift) and the planner adds it back at the end
of the route: the pickups that no longer fit are taken off the route and reported."""

from types import SimpleNamespace

from drivers.planning import checker
from drivers.planning.problem import (
    DROPOFF,
    PICKUP,
    PlannedStop,
    Problem,
    Solution,
    Stop,
    Task,
    Vehicle,
)
from drivers.planning.services import _keep_on_board

VAN = 7
FAR, NEAR, EXTRA = 1, 2, 3


def _problem() -> Problem:
    # Locations: 0 the van, 1 nearby, 2 far away (out of reach before the shift ends).
    durations = [[0, 300, 20_000], [300, 0, 20_000], [20_000, 20_000, 0]]
    van = Vehicle(VAN, start=0, available_from=0, available_until=10_000, capacity=(40_000, 20))
    carried = {"pickup": None, "amount": (20_000, 1), "vehicle": VAN, "must_serve": True}
    return Problem(
        durations=durations,
        vehicles=[van],
        tasks=[
            Task(FAR, dropoff=Stop(2, 60), **carried),
            Task(NEAR, dropoff=Stop(1, 60), **carried),
            Task(EXTRA, pickup=Stop(1, 60), dropoff=Stop(1, 60), amount=(1_000, 1)),
        ],
    )


def test_pickups_that_no_longer_fit_come_off_the_route():
    problem = _problem()
    # What the solver returned: it left the far parcel out and, counting only the near one
    # (20 kg), fetched the 1 kg order first.
    solution = Solution(
        routes={
            VAN: [
                PlannedStop(EXTRA, PICKUP, 1, 300, 300, 360),
                PlannedStop(EXTRA, DROPOFF, 1, 360, 360, 420),
                PlannedStop(NEAR, DROPOFF, 1, 420, 420, 480),
            ]
        },
        unassigned=[FAR],
    )
    snap = SimpleNamespace(problem=problem, started={FAR, NEAR}, late=set())

    _keep_on_board(snap, solution)

    # The van starts with 40 kg: the 1 kg order cannot be fetched before a drop-off.
    assert [(s.task, s.kind) for s in solution.routes[VAN]] == [(NEAR, DROPOFF), (FAR, DROPOFF)]
    assert solution.routes[VAN][-1].late and snap.late == {FAR}
    assert solution.unassigned == [EXTRA]
    problems = checker.check(problem, solution, bound={FAR: VAN, NEAR: VAN})
    assert not [p for p in problems if "capacity" in p], problems
