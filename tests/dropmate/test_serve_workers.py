"""`python -m dropmate.serve`: several daphne workers on one port, a dead worker replaced,
SIGTERM stops them all; without Redis it serves with one worker."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.realservices import free_port, redis_url, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def healthy(base: str) -> bool:
    with urllib.request.urlopen(base + "/health", timeout=10) as response:
        return response.status == 200


@pytest.fixture
def serve(tmp_path):
    procs = []

    def start(workers: int, redis: str | None) -> tuple[subprocess.Popen, str]:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))},
            "DJANGO_DEBUG": "1",
            "SQLITE_PATH": str(tmp_path / "serve.sqlite3"),
            "CHANNEL_LAYER_PREFIX": "serve-test",
        }
        if redis:
            env["REDIS_URL"] = redis
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "dropmate.serve", "--workers", str(workers), "-p", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        procs.append(proc)
        wait_for_port("127.0.0.1", port, timeout=30)
        return proc, f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_workers_share_the_port_and_a_dead_one_is_replaced(serve):
    proc, base = serve(2, redis_url())
    workers = wait_until(lambda: children(proc.pid) if len(children(proc.pid)) == 2 else None)
    assert all(healthy(base) for _ in range(10))
    victim = sorted(workers)[0]
    os.kill(victim, signal.SIGKILL)

    def replacement():
        now = children(proc.pid)
        return now if len(now) == 2 and victim not in now else None

    replaced = wait_until(replacement)
    assert replaced - workers  # a new worker took its place
    wait_until(lambda: all(healthy(base) for _ in range(5)))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in replaced)


def test_workers_stop_when_the_launcher_is_killed(serve):
    proc, _ = serve(2, redis_url())
    workers = wait_until(lambda: children(proc.pid) if len(children(proc.pid)) == 2 else None)
    proc.kill()
    proc.wait(timeout=10)
    wait_until(
        lambda: all(
            not Path(f"/proc/{pid}/status").exists()
            or "zombie" in Path(f"/proc/{pid}/status").read_text()
            for pid in workers
        )
    )


def test_without_redis_it_serves_with_one_worker(serve):
    proc, base = serve(2, None)
    assert healthy(base)
    assert len(wait_until(lambda: children(proc.pid))) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert "using 1 worker" in proc.stdout.read()
