"""The routing problem as plain data, independent of Django and of the solver.

Times are whole seconds from the plan's epoch (`Problem.epoch` when the caller keeps one);
locations are indices into `Problem.durations`. Amounts are tuples of non-negative integers
compared component-wise with vehicle capacities (we use grams and parcels).
"""

from dataclasses import dataclass, field

Window = tuple[int, int]

PICKUP = "pickup"
DROPOFF = "dropoff"


@dataclass(frozen=True)
class Stop:
    location: int
    service_s: int = 0
    window: Window | None = None


@dataclass(frozen=True)
class Task:
    """A pickup → drop-off pair, or a drop-off only (`pickup is None`) for a parcel the vehicle
    already carries at its start. `vehicle`, when set, is the only vehicle allowed (a pinned
    or started shipment). `must_serve` tasks are already on board: a plan may not drop them."""

    key: int
    dropoff: Stop
    pickup: Stop | None = None
    amount: tuple[int, ...] = ()
    vehicle: int | None = None
    must_serve: bool = False


@dataclass(frozen=True)
class Vehicle:
    key: int
    start: int
    available_from: int
    available_until: int
    capacity: tuple[int, ...] = ()
    end: int | None = None


@dataclass
class Problem:
    durations: list[list[int]]
    vehicles: list[Vehicle]
    tasks: list[Task]
    # Optional cost matrix (defaults to durations): the benchmark minimises distance.
    costs: list[list[int]] | None = None

    def task(self, key: int) -> Task:
        return self._tasks_by_key()[key]

    def vehicle(self, key: int) -> Vehicle:
        return {v.key: v for v in self.vehicles}[key]

    def _tasks_by_key(self) -> dict[int, Task]:
        return {t.key: t for t in self.tasks}


@dataclass(frozen=True)
class PlannedStop:
    task: int
    kind: str  # PICKUP or DROPOFF
    location: int
    arrival: int
    start: int  # service start, after any wait for the window to open
    departure: int
    late: bool = False  # a carried parcel whose window can no longer be met


@dataclass
class Solution:
    routes: dict[int, list[PlannedStop]] = field(default_factory=dict)
    unassigned: list[int] = field(default_factory=list)
    cost: int = 0
    solve_time_s: float = 0.0


def schedule(
    problem: Problem,
    vehicle: Vehicle,
    visits: list[tuple[int, str]],
    *,
    late_ok: frozenset = frozenset(),
) -> list[PlannedStop]:
    """Times along a route when each stop is served as early as its window allows. Raises
    nothing: callers (checker, services) judge the result."""
    tasks = problem._tasks_by_key()
    d = problem.durations
    here, now = vehicle.start, vehicle.available_from
    out: list[PlannedStop] = []
    for key, kind in visits:
        task = tasks[key]
        stop = task.pickup if kind == PICKUP else task.dropoff
        arrival = now + d[here][stop.location]
        start = max(arrival, stop.window[0]) if stop.window else arrival
        late = bool(stop.window and start > stop.window[1] and key in late_ok)
        out.append(
            PlannedStop(key, kind, stop.location, arrival, start, start + stop.service_s, late)
        )
        here, now = stop.location, start + stop.service_s
    return out
