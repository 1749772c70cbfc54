"""Dispatch-planning benchmark: prints its figures and exits non-zero when a target is missed.

1. Solomon's 100-customer VRPTW instances c101, c201, r101, r201, rc101, rc201, solved as
   deliveries from a depot by `drivers.planning.solver`. Each solution is verified with our
   checker and with the independent checker in `<bench-data>/solomon.py`, whose
   double-precision distance is the one reported. Target: average gap to the best-known
   distance ≤ 3 %, each instance under 2 s.
2. A courier-sized day: 200 pickup-and-delivery pairs, 15 drivers, 2-hour windows. Target:
   every pair planned in under 5 s; a re-plan after one new order in under 1 s.

    .venv/bin/python bench/planning.py            # BENCH_DATA=/path/to/bench-data to override
"""

import importlib.util
import math
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drivers.planning import checker, solver  # noqa: E402
from drivers.planning.matrix import HaversineMatrix  # noqa: E402
from drivers.planning.problem import PICKUP, Problem, Stop, Task, Vehicle  # noqa: E402

BENCH_DATA = Path(os.environ.get("BENCH_DATA", ROOT.parent / "shared" / "bench-data"))
# Times are Euclidean distances scaled to integers; durations round up (so a plan the solver
# thinks feasible is feasible in double precision) and costs round to nearest.
SCALE = 100
SOLOMON_BUDGET_S = 1.5
# Level 2 usually finishes its search inside the budget on this 2-core machine, so results
# vary little with load; level 5 is cut short by the budget and varies more.
SOLOMON_LEVEL = 2
SOLOMON_LIMIT_S = 2.0
GAP_TARGET = 3.0
DAY_LIMIT_S = 5.0
# The product's defaults (PLANNING_EXPLORATION_LEVEL, a search budget under the limit).
DAY_LEVEL = 3
DAY_BUDGET_S = 3.5
REPLAN_LIMIT_S = 1.0

# Best-known (vehicles, distance) under SINTEF's hierarchical objective, and where each value
# comes from. See <bench-data>/README.md.
BEST_KNOWN = {
    "c101": (10, 828.94, True, "SINTEF Solomon 100-customer table (ref. RT; SAM::OPT)"),
    "c201": (3, 591.56, True, "SINTEF Solomon 100-customer table (ref. RT; SAM::OPT)"),
    "r101": (19, 1650.80, True, "SINTEF Solomon 100-customer table (ref. H)"),
    "r201": (4, 1252.37, False, "third-party GitHub files, not checked against SINTEF"),
    "rc101": (14, 1696.95, False, "third-party GitHub files, not checked against SINTEF"),
    "rc201": (4, 1406.94, False, "third-party GitHub files, not checked against SINTEF"),
}


def load_solomon_module():
    spec = importlib.util.spec_from_file_location("solomon", BENCH_DATA / "solomon.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solomon_problem(inst: dict) -> Problem:
    nodes = inst["nodes"]
    dist = [[math.hypot(a["x"] - b["x"], a["y"] - b["y"]) for b in nodes] for a in nodes]
    durations = [[math.ceil(v * SCALE - 1e-9) for v in row] for row in dist]
    costs = [[round(v * SCALE) for v in row] for row in dist]
    depot = nodes[0]
    vehicles = [
        Vehicle(
            key=k + 1,
            start=0,
            end=0,
            available_from=int(depot["ready"] * SCALE),
            available_until=int(depot["due"] * SCALE),
            capacity=(int(inst["capacity"]),),
        )
        for k in range(int(inst["vehicles"]))
    ]
    tasks = [
        Task(
            key=int(node["id"]),
            dropoff=Stop(
                location=i,
                service_s=int(node["service"] * SCALE),
                window=(int(node["ready"] * SCALE), int(node["due"] * SCALE)),
            ),
            amount=(int(node["demand"]),),
        )
        for i, node in enumerate(nodes)
        if i > 0
    ]
    return Problem(durations=durations, vehicles=vehicles, tasks=tasks, costs=costs)


def run_solomon() -> list[str]:
    solomon = load_solomon_module()
    missed: list[str] = []
    gaps_all, gaps_verified = [], []
    print(f"Solomon VRPTW (100 customers), data from {BENCH_DATA}")
    print(f"solver: VROOM, exploration level {SOLOMON_LEVEL}, search budget {SOLOMON_BUDGET_S} s")
    print(
        f"{'instance':8} {'veh':>4} {'distance':>9} {'best veh':>8} {'best dist':>9} "
        f"{'gap %':>7} {'time s':>6}  best-known source"
    )
    for name, (best_v, best_d, verified, source) in BEST_KNOWN.items():
        inst = solomon.parse(str(BENCH_DATA / "solomon" / f"{name}.txt"))
        problem = solomon_problem(inst)
        started = time.perf_counter()
        solution = solver.solve(
            problem, time_budget_s=SOLOMON_BUDGET_S, exploration_level=SOLOMON_LEVEL
        )
        elapsed = time.perf_counter() - started
        checker.assert_valid(problem, solution)
        routes = [[s.task for s in stops] for stops in solution.routes.values() if stops]
        if solution.unassigned:
            missed.append(f"{name}: {len(solution.unassigned)} customers unserved")
        vehicles, distance = solomon.check(inst, routes, max_vehicles=inst["vehicles"])
        gap = (distance - best_d) / best_d * 100
        gaps_all.append(gap)
        if verified:
            gaps_verified.append(gap)
        mark = "" if verified else " (UNVERIFIED)"
        print(
            f"{name:8} {vehicles:4d} {distance:9.2f} {best_v:8d} {best_d:9.2f} {gap:7.2f} "
            f"{elapsed:6.2f}  {source}{mark}"
        )
        if elapsed >= SOLOMON_LIMIT_S:
            missed.append(f"{name} took {elapsed:.2f} s (limit {SOLOMON_LIMIT_S} s)")
    avg_all = sum(gaps_all) / len(gaps_all)
    avg_verified = sum(gaps_verified) / len(gaps_verified)
    print(f"average gap, verified best-knowns (c101, c201, r101): {avg_verified:.2f} %")
    print(f"average gap, all six (three best-knowns unverified):   {avg_all:.2f} %")
    print(
        "note: the solver minimises distance alone; best-knowns minimise vehicles first, so an "
        "instance solved with more vehicles can come out below its best-known distance."
    )
    for label, avg in (("verified", avg_verified), ("all", avg_all)):
        if avg > GAP_TARGET:
            missed.append(f"average gap ({label}) {avg:.2f} % > {GAP_TARGET} %")
    return missed


def courier_day(
    seed: int = 8, pairs: int = 200, drivers: int = 15
) -> tuple[Problem, list[Task], int]:
    """A day in a 12 × 12 km city, 08:00–20:00: pickups in 2-hour windows, each drop-off due
    within 2 hours of its pickup window closing. Returns the problem, one extra order kept
    back for the re-plan, and the number of locations."""
    rnd = random.Random(seed)
    lat0, lng0 = 51.05, 3.72  # Ghent
    km_lat, km_lng = 1 / 111.2, 1 / (111.2 * math.cos(math.radians(lat0)))

    def point() -> tuple[float, float]:
        return (lat0 + rnd.uniform(-6, 6) * km_lat, lng0 + rnd.uniform(-6, 6) * km_lng)

    points = [point() for _ in range(drivers)]
    raw: list[tuple[int, int, int]] = []
    for _ in range(pairs + 1):
        points += [point(), point()]
        raw.append((len(points) - 2, len(points) - 1, rnd.randrange(0, 9 * 3600, 1800)))
    durations = HaversineMatrix(road_factor=1.3, speed_kmh=25).durations(points)
    day_start = 8 * 3600
    vehicles = [
        Vehicle(
            key=k + 1,
            start=k,
            available_from=day_start,
            available_until=day_start + 12 * 3600,
            capacity=(200_000, 40),
        )
        for k in range(drivers)
    ]
    tasks = []
    for i, (p, d, offset) in enumerate(raw):
        start = day_start + offset
        tasks.append(
            Task(
                key=i + 1,
                pickup=Stop(p, 180, (start, start + 2 * 3600)),
                dropoff=Stop(d, 180, (start, start + 4 * 3600)),
                amount=(rnd.randint(500, 15_000), 1),
            )
        )
    return (
        Problem(durations=durations, vehicles=vehicles, tasks=tasks[:-1]),
        tasks[-1:],
        len(points),
    )


def run_day() -> list[str]:
    missed: list[str] = []
    problem, extra, n = courier_day()
    print(
        f"\nCourier day: {len(problem.tasks)} pairs, {len(problem.vehicles)} drivers, {n} points "
        f"(exploration level {DAY_LEVEL}, search budget {DAY_BUDGET_S} s)"
    )
    started = time.perf_counter()
    solution = solver.solve(problem, time_budget_s=DAY_BUDGET_S, exploration_level=DAY_LEVEL)
    elapsed = time.perf_counter() - started
    checker.assert_valid(problem, solution)
    used = sum(1 for stops in solution.routes.values() if stops)
    print(
        f"full plan: {elapsed:.2f} s, {len(problem.tasks) - len(solution.unassigned)} planned, "
        f"{len(solution.unassigned)} unassigned, {used} drivers used, cost {solution.cost} s"
    )
    if solution.unassigned:
        missed.append(f"courier day: {len(solution.unassigned)} pairs unassigned")
    if elapsed >= DAY_LIMIT_S:
        missed.append(f"courier day took {elapsed:.2f} s (limit {DAY_LIMIT_S} s)")

    problem.tasks = problem.tasks + extra
    initial = {vkey: [(s.task, s.kind) for s in stops] for vkey, stops in solution.routes.items()}
    started = time.perf_counter()
    replanned = solver.solve(
        problem, time_budget_s=REPLAN_LIMIT_S / 2, exploration_level=1, initial=initial
    )
    elapsed = time.perf_counter() - started
    checker.assert_valid(problem, replanned)
    moved = sum(
        1
        for vkey, stops in replanned.routes.items()
        for s in stops
        if s.kind == PICKUP and (s.task, s.kind) not in set(initial.get(vkey, []))
    )
    print(
        f"re-plan after one new order: {elapsed:.2f} s, {len(replanned.unassigned)} unassigned, "
        f"{moved} pickups on a different driver or new, cost {replanned.cost} s"
    )
    if replanned.unassigned:
        missed.append(f"re-plan left {len(replanned.unassigned)} pairs unassigned")
    if elapsed >= REPLAN_LIMIT_S:
        missed.append(f"re-plan took {elapsed:.2f} s (limit {REPLAN_LIMIT_S} s)")
    return missed


def run_service_day() -> list[str]:
    """The same size of day through the product path: `plan_routes` reading the database,
    solving, checking, explaining and writing, on a throwaway SQLite database. Reported, not
    a target: the first plan includes 200 assignments through the lifecycle service (an
    event, outbox rows and pushes each), which costs more than the planning itself."""
    import datetime as dt
    import tempfile
    from decimal import Decimal

    tmp = tempfile.mkdtemp(prefix="dropmate-bench-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="dropmate.settings",
        DJANGO_DEBUG="1",
        SQLITE_PATH=f"{tmp}/bench.sqlite3",
        LOG_LEVEL="WARNING",
    )
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from drivers.planning import checker as plan_checker
    from drivers.planning.services import plan_routes
    from dropmate.accounts.models import Role
    from shipments.lifecycle import Status
    from tests.factories import DriverFactory, UserFactory, VehicleFactory, make_shipment

    problem, extra, _ = courier_day()
    day = timezone.localdate() + dt.timedelta(days=1)
    base = timezone.make_aware(dt.datetime.combine(day, dt.time(0, 0)))
    staff = UserFactory(role=Role.DISPATCHER, is_staff=True)
    customer = UserFactory(role=Role.CUSTOMER)
    rnd_points = _day_points()
    drivers = []
    for k in range(len(problem.vehicles)):
        lat, lng = rnd_points[k]
        drivers.append(
            DriverFactory(
                vehicle=VehicleFactory(capacity_kg=Decimal("200"), capacity_parcels=40),
                home_lat=lat,
                home_lng=lng,
            )
        )

    def make(task: Task) -> None:
        p, d = rnd_points[task.pickup.location], rnd_points[task.dropoff.location]
        make_shipment(
            customer=customer,
            status=Status.ACCEPTED,
            driver=drivers[0],
            staff=staff,
            pickup_lat=p[0],
            pickup_lng=p[1],
            dropoff_lat=d[0],
            dropoff_lng=d[1],
            weight_kg=Decimal(task.amount[0]) / 1000,
            pickup_window_start=base + dt.timedelta(seconds=task.pickup.window[0]),
            pickup_window_end=base + dt.timedelta(seconds=task.pickup.window[1]),
            delivery_window_start=base + dt.timedelta(seconds=task.dropoff.window[0]),
            delivery_window_end=base + dt.timedelta(seconds=task.dropoff.window[1]),
        )

    print(
        "\nThrough plan_routes on a database, end to end (reported; validity is checked, "
        "times are not targets). Setting up 200 accepted shipments..."
    )
    for task in problem.tasks:
        make(task)
    now = base + dt.timedelta(hours=7)
    missed: list[str] = []
    started = time.perf_counter()
    result = plan_routes(date=day, time_budget_s=DAY_LIMIT_S - 0.5, now=now)
    elapsed = time.perf_counter() - started
    problems = plan_checker.check_day(day)
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"full plan: {elapsed:.2f} s end to end (solver {result.stats['solve_time_s']} s), "
        f"{len(result.unassigned)} unassigned, checker: {len(problems)} problems"
    )
    if not result.ok or result.unassigned or problems:
        missed.append(f"service day: {result.message} {problems[:3]}")
    make(extra[0])
    started = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        with cProfile.Profile() as profile:
            result = plan_routes(
                date=day,
                time_budget_s=REPLAN_LIMIT_S - 0.1,
                now=now,
                trigger="bench",
                keep_assignments=True,
            )
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    else:
        t0 = time.perf_counter()
        result = plan_routes(
            date=day,
            time_budget_s=REPLAN_LIMIT_S - 0.1,
            now=now,
            trigger="bench",
            keep_assignments=True,
            progress=(
                (lambda line: print(f"  {time.perf_counter() - t0:5.2f} s  {line}"))
                if os.environ.get("BENCH_VERBOSE")
                else None
            ),
        )
    elapsed = time.perf_counter() - started
    problems = plan_checker.check_day(day)
    print(
        f"re-plan after one new order: {elapsed:.2f} s end to end (solver "
        f"{result.stats['solve_time_s']} s), {len(result.unassigned)} unassigned, "
        f"checker: {len(problems)} problems"
    )
    if not result.ok or result.unassigned or problems:
        missed.append(f"service re-plan: {result.message} {problems[:3]}")
    return missed


def _day_points() -> list[tuple[float, float]]:
    """courier_day's points, regenerated from the same seed."""
    captured = {}
    original = HaversineMatrix.durations

    def capture(self, points):
        captured["points"] = list(points)
        return original(self, points)

    HaversineMatrix.durations = capture
    try:
        courier_day()
    finally:
        HaversineMatrix.durations = original
    return captured["points"]


def main() -> int:
    if not (BENCH_DATA / "solomon.py").is_file():
        print(f"bench data not found at {BENCH_DATA} (set BENCH_DATA)")
        return 2
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    missed = run_solomon() + run_day()
    if "--no-db" not in sys.argv:
        missed += run_service_day()
    print()
    if missed:
        print("MISSED: " + "; ".join(missed))
        return 1
    print("all planning targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
