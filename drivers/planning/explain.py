"""Words for a plan: why a shipment could not be planned, why a stop is on its driver (and the
cost of the next-best driver when cheaply found), and the slack to each window."""

import time

from drivers.planning.problem import DROPOFF, PICKUP, PlannedStop, Problem, Solution, Task, Vehicle


def _minutes(seconds: int) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _solo(problem: Problem, vehicle: Vehicle, task: Task) -> str:
    """Why `vehicle` could not serve `task` even with nothing else to do: "capacity",
    "window", "shift" or "" (it could)."""
    if any(a > c for a, c in zip(task.amount, vehicle.capacity, strict=False)):
        return "capacity"
    d = problem.durations
    here, now = vehicle.start, vehicle.available_from
    for stop in (task.pickup, task.dropoff):
        if stop is None:
            continue
        arrival = now + d[here][stop.location]
        start = max(arrival, stop.window[0]) if stop.window else arrival
        if stop.window and start > stop.window[1]:
            return "window"
        here, now = stop.location, start + stop.service_s
    if now > vehicle.available_until:
        return "shift"
    return ""


def unassigned_reason(problem: Problem, task: Task, *, at, driver_name) -> str:
    """The reason in words. `at(seconds)` formats a time, `driver_name(key)` names a driver."""
    vehicles = [v for v in problem.vehicles if task.vehicle in (None, v.key)]
    if not vehicles:
        return "No driver is on duty with a vehicle."
    causes = {v.key: _solo(problem, v, task) for v in vehicles}
    prefix = ""
    if task.vehicle is not None:
        prefix = f"Pinned to {driver_name(task.vehicle)}, who cannot fit it: "
    if all(c == "capacity" for c in causes.values()):
        biggest = max(v.capacity[0] for v in vehicles) / 1000 if vehicles[0].capacity else 0
        return prefix + (
            f"no vehicle on duty can carry it ({task.amount[0] / 1000:g} kg; the largest "
            f"takes {biggest:g} kg)."
        )
    if all(causes.values()):
        if all(c in ("shift", "capacity") for c in causes.values()):
            last = max(v.available_until for v in vehicles)
            return prefix + (
                f"it cannot be finished before any driver's shift ends (the latest ends at "
                f"{at(last)})."
            )
        window = task.pickup.window if task.pickup and task.pickup.window else None
        window = window or task.dropoff.window
        closes = f" (the window closes at {at(window[1])})" if window else ""
        return prefix + f"its time window cannot be met from any driver's position{closes}."
    return prefix + (
        "every driver who could reach it in time is fully booked around its window "
        "(capacity or time)."
    )


def _route_feasible(problem: Problem, vehicle: Vehicle, visits: list[tuple[Task, str]]) -> int:
    """Travel seconds of the route, or -1 when it breaks a window, the shift or capacity."""
    d = problem.durations
    here, now, travel = vehicle.start, vehicle.available_from, 0
    load = [0] * len(vehicle.capacity)
    for task, _kind in visits:
        if task.pickup is None:
            load = [x + a for x, a in zip(load, task.amount, strict=False)]
    if any(x > c for x, c in zip(load, vehicle.capacity, strict=False)):
        return -1
    for task, kind in visits:
        stop = task.pickup if kind == PICKUP else task.dropoff
        leg = d[here][stop.location]
        travel += leg
        start = max(now + leg, stop.window[0]) if stop.window else now + leg
        if stop.window and start > stop.window[1]:
            return -1
        sign = 1 if kind == PICKUP else -1
        load = [x + sign * a for x, a in zip(load, task.amount, strict=False)]
        if any(x > c for x, c in zip(load, vehicle.capacity, strict=False)):
            return -1
        here, now = stop.location, start + stop.service_s
    return travel if now <= vehicle.available_until else -1


def cheapest_insertion(
    problem: Problem, vehicle: Vehicle, route: list[PlannedStop], task: Task, deadline: float
) -> int | None:
    """Extra travel seconds to fit `task` into `route` at its best feasible place, or None."""
    tasks = {t.key: t for t in problem.tasks}
    visits = [(tasks[s.task], s.kind) for s in route]
    base = _route_feasible(problem, vehicle, visits)
    if base < 0:
        return None
    best = None
    n = len(visits)
    for i in range(n + 1):
        if time.perf_counter() > deadline:
            break
        for j in range(i, n + 1):
            if task.pickup is None:
                if j > i:
                    break
                trial = [*visits[:i], (task, DROPOFF), *visits[i:]]
            else:
                trial = [*visits[:i], (task, PICKUP), *visits[i:j], (task, DROPOFF), *visits[j:]]
            cost = _route_feasible(problem, vehicle, trial)
            if cost >= 0 and (best is None or cost - base < best):
                best = cost - base
    return best


def explain(
    problem: Problem,
    solution: Solution,
    *,
    driver_name,
    at,
    pinned: set[int],
    started: set[int],
    kept: set[int] = frozenset(),
    late: set[int] = frozenset(),
    budget_s: float = 0.5,
    candidates: int = 3,
) -> dict[tuple[int, str], dict]:
    """For each planned stop: {"text", "next_best", "next_best_extra_s", "slack_s"}.
    The next-best search stops at `budget_s` and looks only at the `candidates` drivers whose
    routes pass nearest the pickup: "cheaply available", not exhaustive."""
    deadline = time.perf_counter() + budget_s
    tasks = {t.key: t for t in problem.tasks}
    vehicles = {v.key: v for v in problem.vehicles}
    d = problem.durations
    out: dict[tuple[int, str], dict] = {}
    for vkey, stops in solution.routes.items():
        for stop in stops:
            task = tasks[stop.task]
            spec = task.pickup if stop.kind == PICKUP else task.dropoff
            slack = spec.window[1] - stop.start if spec and spec.window else None
            info = {"slack_s": slack, "next_best": None, "next_best_extra_s": None}
            if task.key in started:
                info["text"] = f"On board with {driver_name(vkey)} since pickup; never moved."
            elif task.key in pinned:
                info["text"] = f"Pinned to {driver_name(vkey)} by a dispatcher."
            elif task.key in kept:
                info["text"] = (
                    f"Kept on {driver_name(vkey)} from the last plan (an automatic re-plan "
                    "does not move assigned jobs)."
                )
            else:
                info["text"] = f"The solver's cheapest plan puts it on {driver_name(vkey)}."
            if stop.late or (task.key in late and stop.kind == DROPOFF):
                info["text"] += " Its window can no longer be met: planned as soon as possible."
            out[(stop.task, stop.kind)] = info
    # Next best driver, once per free pair, on the drop-off and pickup alike.
    for vkey, stops in solution.routes.items():
        for stop in stops:
            task = tasks[stop.task]
            if (
                stop.kind != DROPOFF
                or task.key in pinned
                or task.key in started
                or task.key in kept
            ):
                continue
            if time.perf_counter() > deadline:
                break
            anchor = (task.pickup or task.dropoff).location

            def nearness(other: int, anchor=anchor) -> int:
                route = solution.routes.get(other) or []
                places = [vehicles[other].start, *(s.location for s in route)]
                return min(d[p][anchor] for p in places)

            others = sorted((k for k in vehicles if k != vkey), key=nearness)[:candidates]
            best = None
            for other in others:
                extra = cheapest_insertion(
                    problem, vehicles[other], solution.routes.get(other) or [], task, deadline
                )
                if extra is not None and (best is None or extra < best[1]):
                    best = (other, extra)
            for kind in (PICKUP, DROPOFF):
                info = out.get((task.key, kind))
                if info is None:
                    continue
                if best is None:
                    info["text"] += " No nearby driver could fit it instead."
                else:
                    info["next_best"], info["next_best_extra_s"] = best
                    info["text"] += (
                        f" Next best: {driver_name(best[0])}, adding "
                        f"{_minutes(best[1])} of driving to their route."
                    )
    for info in out.values():
        if info["slack_s"] is not None:
            info["text"] += (
                f" {_minutes(max(0, info['slack_s']))} to spare before the window closes."
                if info["slack_s"] >= 0
                else ""
            )
    return out
