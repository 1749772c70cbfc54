"""The solver on a standard benchmark instance, verified by the independent checker shipped
with the bench data (`<repo>/../shared/bench-data`, or BENCH_DATA)."""

import os
from pathlib import Path

import pytest

from drivers.planning import checker, solver

BENCH_DATA = Path(
    os.environ.get(
        "BENCH_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "bench-data"
    )
)


def test_c101_is_solved_to_its_best_known_distance():
    if not (BENCH_DATA / "solomon.py").is_file():
        pytest.skip(f"bench data not found at {BENCH_DATA}")
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.planning import load_solomon_module, solomon_problem

    solomon = load_solomon_module()
    inst = solomon.parse(str(BENCH_DATA / "solomon" / "c101.txt"))
    problem = solomon_problem(inst)
    solution = solver.solve(problem, time_budget_s=1.5, exploration_level=2)
    checker.assert_valid(problem, solution)
    routes = [[s.task for s in stops] for stops in solution.routes.values() if stops]
    vehicles, distance = solomon.check(inst, routes, max_vehicles=inst["vehicles"])
    # SINTEF's best known for c101: 10 vehicles, 828.94 (proven optimal for distance).
    assert vehicles == 10
    assert distance <= 828.94 * 1.01
