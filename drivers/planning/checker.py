"""Our own validity checker, written apart from the solver: it trusts nothing the solver says
and recomputes loads and times from the problem.

A plan is valid when every pair is on one vehicle with the pickup first, no load exceeds the
vehicle's capacity, every stop is served inside its window (a parcel already on board whose
window can no longer be met may be `late`, and is flagged so), every route ends before its
vehicle's day does, parcels on board are never dropped, and every task bound to a vehicle
(started or pinned) is on that vehicle.
"""

from drivers.planning.problem import DROPOFF, PICKUP, Problem, Solution


class PlanInvalid(AssertionError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:10]))
        self.problems = problems


def _add(a: tuple[int, ...], b: tuple[int, ...], sign: int = 1) -> tuple[int, ...]:
    if not a:
        return tuple(sign * x for x in b)
    if not b:
        return a
    return tuple(x + sign * y for x, y in zip(a, b, strict=True))


def _fits(load: tuple[int, ...], capacity: tuple[int, ...]) -> bool:
    return all(x <= c for x, c in zip(load, capacity, strict=False))


def check(
    problem: Problem,
    solution: Solution,
    *,
    bound: dict[int, int] | None = None,
) -> list[str]:
    """Every rule the plan breaks, in words (empty when valid). `bound` maps task keys to the
    vehicle they must stay on (started and pinned shipments), taken from the caller's own
    records rather than from the problem."""
    problems: list[str] = []
    tasks = {t.key: t for t in problem.tasks}
    vehicles = {v.key: v for v in problem.vehicles}
    where: dict[tuple[int, str], tuple[int, int]] = {}
    d = problem.durations

    for vkey, stops in solution.routes.items():
        vehicle = vehicles.get(vkey)
        if vehicle is None:
            problems.append(f"route for unknown vehicle {vkey}")
            continue
        for position, stop in enumerate(stops):
            if stop.task not in tasks:
                problems.append(f"unknown task {stop.task} on vehicle {vkey}")
                continue
            if (stop.task, stop.kind) in where:
                problems.append(f"task {stop.task} {stop.kind} planned twice")
            where[(stop.task, stop.kind)] = (vkey, position)

        # Load: what is on board at the start, then each pickup and drop-off.
        load: tuple[int, ...] = ()
        for stop in stops:
            task = tasks.get(stop.task)
            if task is not None and task.pickup is None:
                load = _add(load, task.amount)
        if load and not _fits(load, vehicle.capacity):
            problems.append(f"vehicle {vkey} starts over capacity: {load} > {vehicle.capacity}")
        here, free_at = vehicle.start, vehicle.available_from
        for stop in stops:
            task = tasks.get(stop.task)
            if task is None:
                continue
            spec = task.pickup if stop.kind == PICKUP else task.dropoff
            if spec is None:
                problems.append(f"task {task.key} has no pickup but one is planned")
                continue
            if stop.location != spec.location:
                problems.append(f"task {task.key} {stop.kind} at the wrong place")
            earliest = free_at + d[here][spec.location]
            if stop.arrival < earliest:
                problems.append(
                    f"task {task.key} {stop.kind}: arrival {stop.arrival} before it can get "
                    f"there ({earliest})"
                )
            opens = spec.window[0] if spec.window else stop.arrival
            if stop.start < max(stop.arrival, opens):
                problems.append(f"task {task.key} {stop.kind}: service starts too early")
            excused = stop.late and task.must_serve and stop.kind == DROPOFF
            if spec.window and stop.start > spec.window[1] and not excused:
                problems.append(
                    f"task {task.key} {stop.kind}: service at {stop.start} after its "
                    f"window closes ({spec.window[1]})"
                )
            if stop.departure < stop.start + spec.service_s:
                problems.append(f"task {task.key} {stop.kind}: leaves before service is done")
            if stop.kind == PICKUP:
                load = _add(load, task.amount)
                if not _fits(load, vehicle.capacity):
                    problems.append(
                        f"vehicle {vkey} over capacity after picking up {task.key}: "
                        f"{load} > {vehicle.capacity}"
                    )
            else:
                load = _add(load, task.amount, -1)
            here, free_at = spec.location, stop.departure
        if stops:
            back = free_at + (d[here][vehicle.end] if vehicle.end is not None else 0)
            late_ok = any(s.late for s in stops)
            if back > vehicle.available_until and not late_ok:
                problems.append(
                    f"vehicle {vkey} finishes at {back}, after its day ends "
                    f"({vehicle.available_until})"
                )

    unassigned = set(solution.unassigned)
    for key, task in tasks.items():
        drop = where.get((key, DROPOFF))
        pick = where.get((key, PICKUP))
        if drop is None:
            if pick is not None:
                problems.append(f"task {key} picked up but never dropped off")
            if key not in unassigned:
                problems.append(f"task {key} is neither planned nor reported unassigned")
            if task.must_serve:
                problems.append(f"task {key} is on board but was left out of the plan")
            continue
        if key in unassigned:
            problems.append(f"task {key} is planned and also reported unassigned")
        if task.pickup is not None:
            if pick is None:
                problems.append(f"task {key} dropped off without a pickup")
            elif pick[0] != drop[0]:
                problems.append(f"task {key}: pickup and drop-off on different vehicles")
            elif pick[1] >= drop[1]:
                problems.append(f"task {key}: drop-off before pickup")
        if task.vehicle is not None and drop[0] != task.vehicle:
            problems.append(f"task {key} must stay on vehicle {task.vehicle}, is on {drop[0]}")
        if bound and key in bound and drop[0] != bound[key]:
            problems.append(f"task {key} was moved off vehicle {bound[key]} to {drop[0]}")
    for key in unassigned - set(tasks):
        problems.append(f"unknown task {key} reported unassigned")
    return problems


def assert_valid(problem: Problem, solution: Solution, *, bound: dict[int, int] | None = None):
    problems = check(problem, solution, bound=bound)
    if problems:
        raise PlanInvalid(problems)


def check_day(day, *, pinned: dict[int, int] | None = None, started: dict[int, int] | None = None):
    """The same rules on what was written for `day`: routes, stops and assignments in the
    database. `pinned` and `started` map shipment ids to the driver each had before planning
    (the caller's own record). Travel times are recomputed with the configured matrix."""
    from django.conf import settings

    from drivers.models import Route
    from drivers.planning.build import _kg
    from drivers.planning.matrix import HaversineMatrix, MatrixError, provider_from_settings
    from shipments.lifecycle import ON_THE_ROAD
    from shipments.models import Shipment

    problems: list[str] = []
    provider = provider_from_settings()
    seen: dict[tuple[int, str], tuple[int, int]] = {}
    for route in Route.objects.filter(date=day).select_related("driver__vehicle"):
        stops = list(route.stops.select_related("shipment").order_by("position"))
        vehicle = route.driver.vehicle
        points = [(route.start_lat, route.start_lng)] + [(s.lat, s.lng) for s in stops]
        try:
            matrix = provider.durations(points)
        except MatrixError:  # the planner fell back to straight lines too
            matrix = HaversineMatrix(
                road_factor=settings.PLANNING_ROAD_FACTOR, speed_kmh=settings.PLANNING_SPEED_KMH
            ).durations(points)
        on_board = {s.shipment_id for s in stops if s.shipment.status in ON_THE_ROAD}
        grams = sum(int(_kg(s.shipment) * 1000) for s in stops if s.shipment_id in on_board)
        parcels = len(on_board)
        free_at = route.starts_at
        for i, stop in enumerate(stops):
            shipment = stop.shipment
            label = f"{shipment.tracking_number} {stop.kind}"
            if (stop.shipment_id, stop.kind) in seen:
                problems.append(f"{label} is on two routes")
            seen[(stop.shipment_id, stop.kind)] = (route.driver_id, stop.position)
            if shipment.driver_id != route.driver_id:
                problems.append(f"{label} is on {route.driver}'s route but not assigned to them")
            if stop.kind == "pickup" and stop.shipment_id in on_board:
                problems.append(f"{label}: already picked up, yet planned again")
            if free_at is not None:
                travel = matrix[i][i + 1]
                if (stop.planned_arrival - free_at).total_seconds() < travel - 1:
                    problems.append(f"{label}: arrives before it can get there")
            if stop.planned_start < stop.planned_arrival:
                problems.append(f"{label}: service starts before arrival")
            if stop.window_start and stop.planned_start < stop.window_start:
                problems.append(f"{label}: served before its window opens")
            if stop.window_end and stop.planned_start > stop.window_end and not stop.late:
                problems.append(f"{label}: served after its window closes")
            if stop.late and stop.shipment_id not in on_board:
                problems.append(f"{label}: only parcels on board may be late")
            free_at = stop.planned_departure
            if stop.kind == "pickup":
                grams += int(_kg(shipment) * 1000)
                parcels += 1
            else:
                grams -= int(_kg(shipment) * 1000)
                parcels -= 1
            if vehicle and (
                grams > vehicle.capacity_kg * 1000 or parcels > vehicle.capacity_parcels
            ):
                problems.append(f"{route.driver} over capacity after {label}")
    for (shipment_id, kind), (driver_id, position) in seen.items():
        if kind == "pickup":
            drop = seen.get((shipment_id, "dropoff"))
            if drop is None or drop[0] != driver_id:
                problems.append(f"shipment {shipment_id}: pickup without its drop-off on the route")
            elif drop[1] <= position:
                problems.append(f"shipment {shipment_id}: drop-off before pickup")
    drivers_now = dict(
        Shipment.objects.filter(pk__in=[*(pinned or {}), *(started or {})]).values_list(
            "pk", "driver_id"
        )
    )
    for label, expected in (("pinned", pinned or {}), ("started", started or {})):
        for shipment_id, driver_id in expected.items():
            if drivers_now.get(shipment_id) != driver_id:
                problems.append(f"{label} shipment {shipment_id} moved off driver {driver_id}")
            stop = seen.get((shipment_id, "dropoff"))
            if stop is not None and stop[0] != driver_id:
                problems.append(f"{label} shipment {shipment_id} planned on another driver")
    return problems
