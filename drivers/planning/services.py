"""Plan the day's routes and write them: the one writer of Route, RouteStop and PlanRun.

`plan_routes` reads a snapshot (shipments waiting or on board, drivers on duty with a
vehicle), asks the solver, checks the answer with our own checker, then in ONE transaction
assigns shipments through `shipments.services.shipment_assign` and rewrites each planned
driver's Route. Pushes to the drivers and the dispatch console leave after commit.

Never moved: a shipment a dispatcher pinned to a driver, and any parcel already picked up
(its drop-off stays with the driver who carries it; a drop-off under way heads the route).
When the solver fails or times out, or anything changed while it searched (a shipment, or a
planned driver going off duty), the current plan is left exactly as it was and the result
says so; an automatic re-plan that lost such a race queues one more.
"""

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from drivers.models import Driver, PlanRun, Route, RouteStop
from drivers.planning import checker, explain, solver
from drivers.planning.build import ON_BOARD, Snapshot, hhmm, snapshot
from drivers.planning.problem import DROPOFF, PlannedStop, Solution
from dropmate.accounts.models import User
from shipments.models import Shipment
from shipments.services import shipment_assign

MIN_SEARCH_S = 0.1
WRITE_S_PER_ASSIGNMENT = 0.02


class PlanConflict(Exception):
    """Shipments changed while the solver searched; the plan would be stale."""


@dataclass
class PlanResult:
    ok: bool
    status: str
    message: str
    date: dt.date
    job_id: str
    unassigned: list[dict] = field(default_factory=list)
    excluded: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def routes(self) -> list[dict]:
        """Every route of the day as now stored (read on demand: a background re-plan
        does not need it)."""
        from drivers.planning.selectors import plan_routes_view

        return plan_routes_view(date=self.date)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": str(self.status),
            "message": self.message,
            "date": self.date.isoformat(),
            "job_id": self.job_id,
            "routes": self.routes,
            "unassigned": self.unassigned,
            "excluded": self.excluded,
            "notes": self.notes,
            "stats": self.stats,
        }


def _name(snap: Snapshot, driver_id: int) -> str:
    driver = snap.drivers.get(driver_id) or Driver.objects.select_related("user").get(pk=driver_id)
    return driver.user.get_full_name() or driver.user.email


def plan_run_create(
    *, date: dt.date | None = None, actor: User | None = None, trigger: str = "manual"
) -> PlanRun:
    """A queued run, for a plan made in the background (its uuid is the job id)."""
    return PlanRun.objects.create(
        uuid=uuid.uuid4(), date=date or timezone.localdate(), actor=actor, trigger=trigger
    )


def plan_routes(
    *,
    date: dt.date | None = None,
    time_budget_s: float | None = None,
    actor: User | None = None,
    trigger: str = "manual",
    run: PlanRun | None = None,
    progress=None,
    now: dt.datetime | None = None,
    keep_assignments: bool = False,
) -> PlanResult:
    """Plan `date` (default today) and write the routes. `actor` None is the system.
    `progress(message)` receives a line per phase; `now` (tests, replays) fixes the clock.
    `keep_assignments` (automatic re-plans) leaves assigned shipments with their driver and
    fits the rest around them: no job hops between drivers because one order arrived.
    Returns a PlanResult; never raises for
    a solver failure (the result says the current plan was kept)."""
    say = progress or (lambda message: None)
    day = date or timezone.localdate(now)
    budget = float(time_budget_s if time_budget_s is not None else settings.PLANNING_TIME_BUDGET_S)
    started = time.perf_counter()
    if run is None:
        run = PlanRun.objects.create(
            uuid=uuid.uuid4(), date=day, actor=actor, trigger=trigger, time_budget_s=budget
        )
    PlanRun.objects.filter(pk=run.pk).update(status=PlanRun.Status.RUNNING, time_budget_s=budget)

    say(f"Reading shipments and drivers for {day.isoformat()}")
    snap = snapshot(day=day, now=now, keep_assignments=keep_assignments)
    problem = snap.problem
    say(
        f"{len(problem.tasks)} shipments to plan on {len(problem.vehicles)} drivers "
        f"({len(snap.excluded_shipments)} shipments and {len(snap.excluded_drivers)} drivers "
        f"left out); travel times: {snap.matrix_name}"
    )
    excluded = {"shipments": snap.excluded_shipments, "drivers": snap.excluded_drivers}

    # The budget covers the whole run: the solver gets what reading, explaining and writing
    # (about WRITE_S_PER_ASSIGNMENT for each shipment that may change hands) leave of it.
    to_assign = sum(1 for key in snap.shipments if snap.shipments[key].driver_id is None)
    explain_s = min(0.5, budget * 0.1)
    search_s = max(
        MIN_SEARCH_S,
        budget
        - (time.perf_counter() - started)
        - explain_s
        - WRITE_S_PER_ASSIGNMENT * to_assign
        - 0.1,
    )
    say(f"Solving (search budget {search_s:.1f} s)")
    try:
        solution = solver.solve(
            problem,
            time_budget_s=search_s,
            exploration_level=_level(snap, search_s),
            initial=snap.initial,
        )
        _keep_on_board(snap, solution)
        checker.assert_valid(problem, solution, bound=snap.bound)
    except (solver.SolverError, checker.PlanInvalid) as exc:
        message = f"{exc} The current plan was left in place."
        say(message)
        return _finish(run, snap, day, excluded, ok=False, message=message, started=started)

    say(f"Solved in {solution.solve_time_s:.2f} s; explaining and writing routes")
    names = {key: _name(snap, key) for key in snap.drivers}
    notes = explain.explain(
        problem,
        solution,
        driver_name=names.__getitem__,
        at=lambda s: hhmm(snap.at(s)),
        pinned=snap.pinned,
        started=snap.started,
        kept=snap.kept,
        late=snap.late,
        budget_s=explain_s,
    )
    unassigned = dict(snap.unassigned)
    tasks = {t.key: t for t in problem.tasks}
    for key in solution.unassigned:
        reason = explain.unassigned_reason(
            problem, tasks[key], at=lambda s: hhmm(snap.at(s)), driver_name=names.__getitem__
        )
        shipment = snap.shipments[key]
        if key in snap.kept:
            reason = reason.replace("Pinned to", "Kept on", 1)
        if shipment.driver_id and shipment.status == "assigned" and key not in snap.pinned:
            if shipment.driver_id in snap.drivers:
                reason += f" It stays on {_name(snap, shipment.driver_id)}'s list for now."
            else:
                # The planner may reassign but not unassign: dispatch has to act on it.
                reason += (
                    f" {_name(snap, shipment.driver_id)} is not being planned (off duty or no "
                    "vehicle): it stays on their list until dispatch reassigns it."
                )
        unassigned[key] = reason[0].upper() + reason[1:]
    try:
        with transaction.atomic():
            _write(snap, solution, notes, actor, run)
    except (PlanConflict, IntegrityError) as exc:
        if isinstance(exc, IntegrityError):
            exc = PlanConflict("Another plan was written at the same time.")
        message = f"{exc} The current plan was left in place; plan again."
        if keep_assignments and not trigger.startswith("retry:"):
            # An automatic re-plan that lost a race (say, to a driver going off duty) must not
            # leave the day as it was: one more run reads the new state.
            from drivers.planning.triggers import replan_soon

            replan_soon(trigger=f"retry:{trigger}", day=day)
            message = f"{exc} The current plan was left in place; a new re-plan is queued."
        say(message)
        return _finish(run, snap, day, excluded, ok=False, message=message, started=started)
    planned = sum(1 for stops in solution.routes.values() for s in stops if s.kind == DROPOFF)
    message = f"Planned {planned} shipments on {sum(1 for r in solution.routes.values() if r)} "
    message += f"routes; {len(unassigned)} could not be planned."
    say(message)
    result = _finish(
        run,
        snap,
        day,
        excluded,
        ok=True,
        message=message,
        started=started,
        unassigned=unassigned,
        solution=solution,
    )
    from tracking import broadcast

    # After the routes and the run's outcome are both committed (or the caller's transaction).
    transaction.on_commit(partial(broadcast.route_planned_push, plan_run_id=run.pk))
    return result


def _level(snap: Snapshot, search_s: float) -> int:
    """Seeded with the day's current routes, a light search is enough and fast. VROOM's
    construction phase ignores the timeout and grows with the level, so a short budget
    gets a lower level."""
    if snap.initial:
        return settings.PLANNING_REPLAN_EXPLORATION_LEVEL
    level = settings.PLANNING_EXPLORATION_LEVEL
    if search_s < 1:
        return 1
    if search_s < 3:
        return min(level, 2)
    return level


def _keep_on_board(snap: Snapshot, solution: Solution) -> None:
    """A parcel on board the solver could not fit still goes with its driver: appended to
    the end of the route, flagged late."""
    for key in [k for k in solution.unassigned if k in snap.started]:
        task = snap.problem.task(key)
        route = solution.routes.setdefault(task.vehicle, [])
        vehicle = snap.problem.vehicle(task.vehicle)
        here = route[-1].location if route else vehicle.start
        free = route[-1].departure if route else vehicle.available_from
        arrival = free + snap.problem.durations[here][task.dropoff.location]
        start = max(arrival, task.dropoff.window[0]) if task.dropoff.window else arrival
        route.append(
            PlannedStop(
                key,
                DROPOFF,
                task.dropoff.location,
                arrival,
                start,
                start + task.dropoff.service_s,
                late=True,
            )
        )
        solution.unassigned.remove(key)
        snap.late.add(key)
        _fit_capacity(snap, solution, task.vehicle)


def _fit_capacity(snap: Snapshot, solution: Solution, vehicle_key: int) -> None:
    """The solver planned this route without a parcel that is on board all the same (added by
    `_keep_on_board`): drop the pickups that no longer fit (they are reported unassigned), so
    the van is never planned over its capacity."""
    vehicle = snap.problem.vehicle(vehicle_key)
    route = solution.routes.get(vehicle_key, [])
    tasks = {stop.task: snap.problem.task(stop.task) for stop in route}
    load = [0] * len(vehicle.capacity)
    for task in tasks.values():
        if task.pickup is None:  # on board from the start
            load = [x + y for x, y in zip(load, task.amount, strict=False)]
    dropped: set[int] = set()
    for stop in route:
        task = tasks[stop.task]
        if stop.task in dropped:
            continue
        sign = -1 if stop.kind == DROPOFF else 1
        after = [x + sign * y for x, y in zip(load, task.amount, strict=False)]
        if sign > 0 and any(x > c for x, c in zip(after, vehicle.capacity, strict=False)):
            dropped.add(stop.task)
            continue
        load = after
    if dropped:
        solution.routes[vehicle_key] = [stop for stop in route if stop.task not in dropped]
        solution.unassigned.extend(sorted(dropped))


def _write(snap: Snapshot, solution: Solution, notes: dict, actor: User | None, run) -> None:
    """Expects to run inside a transaction. Locks every shipment in the plan; if one changed
    since the snapshot, raises PlanConflict (and the transaction rolls back)."""
    # Two runs writing at once take turns here; the second then sees the first's changes
    # through the shipment versions below.
    drivers = Driver.objects.select_for_update().filter(pk__in=snap.drivers).order_by("pk")
    # Going off duty locks the same row: a driver who left after the snapshot was read would
    # otherwise keep (or be given) jobs they will never do.
    gone = [d.pk for d in drivers if not d.on_duty]
    if gone:
        names = ", ".join(_name(snap, pk) for pk in gone)
        raise PlanConflict(f"{names} went off duty while planning.")
    keys = list(snap.shipments)
    locked = {
        s.pk: s
        for s in Shipment.objects.select_for_update(of=("self",)).filter(pk__in=keys).order_by("pk")
    }
    changed = [
        snap.shipments[k].tracking_number
        for k in keys
        if k not in locked or locked[k].version != snap.versions[k]
    ]
    if changed:
        raise PlanConflict(
            f"{len(changed)} shipment(s) changed while planning ({', '.join(changed[:5])})."
        )
    now = timezone.now()
    planned_ids = set()
    for driver_id, stops in solution.routes.items():
        driver = snap.drivers[driver_id]
        for stop in stops:
            planned_ids.add(stop.task)
            shipment = locked[stop.task]
            if stop.kind == DROPOFF and shipment.driver_id != driver_id:
                if stop.task in snap.bound:  # the checker already refuses this
                    raise PlanConflict(f"{shipment} would leave its bound driver.")
                shipment_assign(
                    shipment=shipment,
                    actor=actor,
                    driver=driver,
                    expected_version=snap.versions[stop.task],
                )
    in_progress = {pk for heads in snap.in_progress.values() for pk, *_ in heads}
    rows = {driver_id: _route_rows(snap, solution, notes, driver_id) for driver_id in snap.drivers}
    # A route whose stops and times are all as before is left untouched (and not pushed): a
    # re-plan after one new order rewrites only the routes it changes.
    before: dict[int, list[tuple]] = {}
    route_ids: dict[int, int] = {}
    for route_id, driver_id, *signature in (
        RouteStop.objects.filter(route__date=snap.day, route__driver_id__in=snap.drivers)
        .order_by("route_id", "position")
        .values_list(
            "route_id",
            "route__driver_id",
            "shipment_id",
            "kind",
            "planned_arrival",
            "planned_start",
            "late",
        )
    ):
        before.setdefault(driver_id, []).append(tuple(signature))
        route_ids[driver_id] = route_id
    route_ids.update(
        Route.objects.filter(date=snap.day, driver_id__in=snap.drivers).values_list(
            "driver_id", "id"
        )
    )
    unchanged = {
        driver_id
        for driver_id, new in rows.items()
        if driver_id in route_ids and before.get(driver_id, []) == [_signature(row) for row in new]
    }
    keep_routes = [route_ids[d] for d in unchanged]
    # Stops of every planned shipment leave whatever route held them, then each changed
    # route of the day is rewritten.
    RouteStop.objects.filter(shipment_id__in=planned_ids | in_progress).exclude(
        route_id__in=keep_routes
    ).delete()
    RouteStop.objects.filter(
        route__date=snap.day, route__driver_id__in=set(snap.drivers) - unchanged
    ).delete()
    # Off-duty drivers' routes keep only what they still carry: no pickups already done,
    # nothing that is now another driver's.
    RouteStop.objects.filter(
        route__date=snap.day, kind=RouteStop.Kind.PICKUP, shipment__status__in=ON_BOARD
    ).delete()
    RouteStop.objects.filter(route__date=snap.day).exclude(
        shipment__driver_id=F("route__driver_id")
    ).delete()
    # Shipments that could not be planned are off every route of the day.
    RouteStop.objects.filter(route__date=snap.day, shipment_id__in=set(keys) - planned_ids).exclude(
        shipment_id__in=in_progress
    ).delete()
    created = []
    for driver_id, new in rows.items():
        if driver_id in unchanged:
            continue
        stops = solution.routes.get(driver_id) or []
        vehicle = snap.problem.vehicle(driver_id)
        start_point = snap.points[snap.origin[driver_id]]
        route, _ = Route.objects.update_or_create(
            driver_id=driver_id,
            date=snap.day,
            defaults={
                "plan_run": run,
                "planned_at": now,
                "start_lat": start_point[0],
                "start_lng": start_point[1],
                "starts_at": snap.at(0),
                "ends_at": snap.at(stops[-1].departure if stops else vehicle.available_from),
                "travel_s": _travel(snap, driver_id, stops),
            },
        )
        for row in new:
            row.route = route
        created += new
    RouteStop.objects.bulk_create(created)


def _signature(row: RouteStop) -> tuple:
    return (row.shipment_id, row.kind, row.planned_arrival, row.planned_start, row.late)


def _route_rows(snap: Snapshot, solution: Solution, notes: dict, driver_id: int) -> list:
    """The driver's stops as unsaved rows (their route is set by the caller)."""
    rows = []
    position = 0
    # Drop-offs under way head the route exactly as they were.
    for pk, _location, arrival, start, departure in snap.in_progress.get(driver_id, []):
        rows.append(
            _stop_row(
                None,
                position,
                snap.shipments[pk],
                RouteStop.Kind.DROPOFF,
                snap,
                arrival,
                start,
                departure,
                text="Under way now; kept first.",
            )
        )
        position += 1
    for stop in solution.routes.get(driver_id) or []:
        info = notes.get((stop.task, stop.kind), {})
        rows.append(
            _stop_row(
                None,
                position,
                snap.shipments[stop.task],
                stop.kind,
                snap,
                stop.arrival,
                stop.start,
                stop.departure,
                text=info.get("text", ""),
                slack=info.get("slack_s"),
                late=stop.late or stop.task in snap.late,
                next_best=info.get("next_best"),
                next_best_extra=info.get("next_best_extra_s"),
            )
        )
        position += 1
    return rows


def _travel(snap: Snapshot, driver_id: int, stops: list[PlannedStop]) -> int:
    d = snap.problem.durations
    here = snap.problem.vehicle(driver_id).start
    total = 0
    for stop in stops:
        total += d[here][stop.location]
        here = stop.location
    return total


def _stop_row(
    route: Route | None,
    position: int,
    shipment: Shipment,
    kind: str,
    snap: Snapshot,
    arrival: int,
    start: int,
    departure: int,
    *,
    text: str,
    slack: int | None = None,
    late: bool = False,
    next_best: int | None = None,
    next_best_extra: int | None = None,
) -> RouteStop:
    pickup = kind == RouteStop.Kind.PICKUP
    point = shipment.pickup_point if pickup else shipment.dropoff_point
    window_start = shipment.pickup_window_start if pickup else shipment.delivery_window_start
    window_end = shipment.pickup_window_end if pickup else shipment.delivery_window_end
    return RouteStop(
        route=route,
        position=position,
        shipment=shipment,
        kind=kind,
        lat=point[0],
        lng=point[1],
        planned_arrival=snap.at(arrival),
        planned_start=snap.at(start),
        planned_departure=snap.at(departure),
        window_start=window_start,
        window_end=window_end,
        slack_s=slack,
        late=late,
        explanation=text[:500],
        next_best_driver_id=next_best,
        next_best_extra_s=next_best_extra,
    )


def _finish(
    run: PlanRun,
    snap: Snapshot,
    day: dt.date,
    excluded: dict,
    *,
    ok: bool,
    message: str,
    started: float,
    unassigned: dict[int, str] | None = None,
    solution: Solution | None = None,
) -> PlanResult:
    elapsed = time.perf_counter() - started
    unassigned_rows = [
        {"tracking_number": snap.shipments[k].tracking_number, "reason": reason}
        for k, reason in sorted((unassigned or {}).items())
    ]
    stats = {
        "shipments": len(snap.problem.tasks),
        "drivers": len(snap.problem.vehicles),
        "solve_time_s": round(solution.solve_time_s, 3) if solution else None,
        "elapsed_s": round(elapsed, 3),
        "travel_time_source": snap.matrix_name,
    }
    PlanRun.objects.filter(pk=run.pk).update(
        status=PlanRun.Status.DONE if ok else PlanRun.Status.KEPT,
        message=message[:500],
        unassigned=unassigned_rows,
        excluded={**excluded, "notes": snap.notes},
        stats=stats,
        solve_time_s=stats["solve_time_s"],
        finished_at=timezone.now(),
    )
    return PlanResult(
        ok=ok,
        status=PlanRun.Status.DONE if ok else PlanRun.Status.KEPT,
        message=message,
        date=day,
        job_id=str(run.uuid),
        unassigned=unassigned_rows,
        excluded=excluded,
        notes=snap.notes,
        stats=stats,
    )
