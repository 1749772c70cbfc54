"""The one module that talks to the solver: VROOM through its Python binding, pyvroom.

VROOM handles pickup-and-delivery shipments (pair on one vehicle, pickup first), time windows,
multi-dimensional capacities and skills natively. Everything else in planning speaks the plain
types of `drivers.planning.problem`, so the solver can be swapped by rewriting this module.

Mapping: task i becomes VROOM ids 2i+1 (pickup) and 2i+2 (drop-off); a drop-off-only task is a
VROOM job whose `delivery` amount is on board from the start. A task bound to one vehicle asks
for that vehicle's private skill. Parcels already on board get the highest priority.
"""

import time
from datetime import timedelta

import numpy as np
import vroom

from drivers.planning.problem import (
    DROPOFF,
    PICKUP,
    PlannedStop,
    Problem,
    Solution,
    schedule,
)

MAX_PRIORITY = 100


class SolverError(Exception):
    """The solver failed or gave an unusable answer. The caller keeps the current plan."""


def _amount(values: tuple[int, ...]) -> vroom.Amount:
    return vroom.Amount([int(v) for v in values])


def _window(window: tuple[int, int] | None) -> list[vroom.TimeWindow]:
    if window is None:
        return []
    return [vroom.TimeWindow(max(0, int(window[0])), max(0, int(window[1])))]


def _build(problem: Problem, initial: dict[int, list[tuple[int, str]]] | None) -> vroom.Input:
    durations = np.asarray(problem.durations, dtype=np.uint32)
    solver_input = vroom.Input()
    solver_input.set_durations_matrix("car", durations)
    if problem.costs is not None:
        solver_input.set_costs_matrix("car", np.asarray(problem.costs, dtype=np.uint32))
    index = {task.key: i for i, task in enumerate(problem.tasks)}
    skill = {vehicle.key: n + 1 for n, vehicle in enumerate(problem.vehicles)}
    for n, vehicle in enumerate(problem.vehicles):
        steps = []
        for key, kind in (initial or {}).get(vehicle.key, []):
            if key not in index:
                continue
            i = index[key]
            task = problem.tasks[i]
            if kind == PICKUP:
                steps.append(vroom.VehicleStepPickup(2 * i + 1))
            elif task.pickup is None:
                steps.append(vroom.VehicleStepSingle(2 * i + 2))
            else:
                steps.append(vroom.VehicleStepDelivery(2 * i + 2))
        solver_input.add_vehicle(
            vroom.Vehicle(
                n + 1,
                start=vehicle.start,
                end=vehicle.end,
                capacity=_amount(vehicle.capacity),
                skills={skill[vehicle.key]},
                time_window=vroom.TimeWindow(
                    max(0, vehicle.available_from), max(0, vehicle.available_until)
                ),
                steps=steps,
            )
        )
    for i, task in enumerate(problem.tasks):
        skills = {skill[task.vehicle]} if task.vehicle is not None else set()
        priority = MAX_PRIORITY if task.must_serve else 0
        if task.pickup is None:
            solver_input.add_job(
                vroom.Job(
                    2 * i + 2,
                    location=task.dropoff.location,
                    default_service=task.dropoff.service_s,
                    delivery=_amount(task.amount),
                    skills=skills,
                    priority=priority,
                    time_windows=_window(task.dropoff.window),
                )
            )
        else:
            solver_input.add_shipment(
                vroom.ShipmentStep(
                    2 * i + 1,
                    location=task.pickup.location,
                    default_service=task.pickup.service_s,
                    time_windows=_window(task.pickup.window),
                ),
                vroom.ShipmentStep(
                    2 * i + 2,
                    location=task.dropoff.location,
                    default_service=task.dropoff.service_s,
                    time_windows=_window(task.dropoff.window),
                ),
                amount=_amount(task.amount),
                skills=skills,
                priority=priority,
            )
    return solver_input


def solve(
    problem: Problem,
    *,
    time_budget_s: float,
    exploration_level: int = 5,
    threads: int = 2,
    initial: dict[int, list[tuple[int, str]]] | None = None,
) -> Solution:
    """Solve `problem` within about `time_budget_s` seconds of search. `initial` (vehicle key →
    [(task key, kind)]) seeds the search with the current routes, which makes a re-plan after
    one change fast and keeps routes stable. Raises SolverError on any solver failure."""
    started = time.perf_counter()
    if not problem.tasks:
        return Solution(routes={v.key: [] for v in problem.vehicles})
    if not problem.vehicles:
        return Solution(unassigned=[t.key for t in problem.tasks])
    try:
        solver_input = _build(problem, initial)
        result = solver_input.solve(
            exploration_level=max(1, min(5, exploration_level)),
            nb_threads=threads,
            timeout=timedelta(seconds=max(0.01, time_budget_s)),
        )
    except Exception as exc:  # the binding raises plain RuntimeError/ValueError/TypeError
        raise SolverError(f"The solver failed: {exc}") from exc

    vehicles = list(problem.vehicles)
    routes: dict[int, list[tuple[int, str]]] = {v.key: [] for v in vehicles}
    frame = result.routes
    rows = (
        zip(frame["vehicle_id"], frame["type"], frame["id"], strict=True)
        if len(frame) and "id" in frame.columns
        else ()
    )
    for vehicle_id, kind, job_id in rows:
        if kind not in ("job", "pickup", "delivery"):
            continue
        job_id = int(job_id)
        task = problem.tasks[(job_id - 1) // 2]
        routes[vehicles[int(vehicle_id) - 1].key].append(
            (task.key, PICKUP if job_id % 2 == 1 else DROPOFF)
        )
    # Whatever the solver did not route is unassigned (its own list holds raw job objects).
    routed = {key for visits in routes.values() for key, kind in visits if kind == DROPOFF}
    unassigned = [task.key for task in problem.tasks if task.key not in routed]
    planned: dict[int, list[PlannedStop]] = {
        v.key: schedule(problem, v, routes[v.key]) for v in vehicles
    }
    return Solution(
        routes=planned,
        unassigned=unassigned,
        cost=int(result.summary.cost),
        solve_time_s=time.perf_counter() - started,
    )
