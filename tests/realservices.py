"""Reaching real services from tests.

A test that needs PostgreSQL, Redis or another real component asks here. When the service
cannot be reached the test is skipped with the reason, unless DROPMATE_REQUIRE_SERVICES=1
(CI), which turns the skip into a failure so CI never passes by skipping.
"""

import os
import shutil
import socket
import subprocess
import time
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def required() -> bool:
    return os.environ.get("DROPMATE_REQUIRE_SERVICES", "") in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip (or, when services are required, fail) the calling test."""
    if required():
        pytest.fail(f"DROPMATE_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_url() -> str:
    """REDIS_URL when configured, else the machine's default Redis if one answers."""
    url = settings.REDIS_URL or os.environ.get("DROPMATE_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    parsed = urlparse(url)
    if not port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        unavailable(f"Redis is not reachable at {url}")
    return url


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        unavailable("this test needs PostgreSQL: set DATABASE_URL=postgres://...")


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port, timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


def start_redis_server() -> tuple[subprocess.Popen, str]:
    """A private redis-server on a free port (for tests that stop Redis)."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port("127.0.0.1", port)
    return proc, f"redis://127.0.0.1:{port}/0"


def race(n: int, work) -> list:
    """Run `work(i)` in n threads released together (each on its own database connection);
    return each result or the exception it raised, in order."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results
