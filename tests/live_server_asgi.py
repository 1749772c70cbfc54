"""The real ASGI server (daphne: HTTP and WebSockets) in a subprocess, for browser tests whose
pages follow live updates over sockets, which pytest-django's WSGI live server cannot carry.

`asgi_live_server(**env)` starts one on the test's own database (the test commits, so the
server sees its data, and the test reads back what the pages did) with the pass's channel
layer: the in-memory one on the embedded default, Redis pub/sub (same prefix) when REDIS_URL
is set. Both carry what the pages do, since those pushes start in the server process; a push
made by the test process itself reaches the pages only through Redis. Import the fixture into
the test module:
`from tests.live_server_asgi import asgi_live_server`.
"""

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.realservices import free_port, port_open

ROOT = Path(__file__).resolve().parents[1]


def start_daphne(env: dict, port: int, *, log: Path | None = None) -> subprocess.Popen:
    """daphne on 127.0.0.1:`port`, returned once it accepts connections. Its output goes to
    `log` when given (read it when a test fails), else nowhere."""
    daphne = shutil.which("daphne", path=str(Path(sys.executable).parent)) or "daphne"
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
    try:
        proc = subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(port), "dropmate.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log:
            out.close()
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port, timeout=0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"daphne did not start on port {port}:\n{tail}")
        time.sleep(0.05)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def server_env_for_test_db() -> dict:
    """Variables that point a server process at the test database (SQLite file or
    PostgreSQL), on this pass's channel layer, cache and Celery."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
    # The test process's licence to call the ORM beside Playwright's loop is not the server's.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = str(db["NAME"])
    elif connection.vendor == "postgresql":
        auth = quote(db["USER"] or "postgres", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = db["HOST"] or "127.0.0.1"
        env["DATABASE_URL"] = f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
    else:  # pragma: no cover - the project runs on these two
        raise RuntimeError(f"no ASGI live server for {connection.vendor}")
    if not settings.REDIS_URL:
        env.pop("REDIS_URL", None)
    env.update(DJANGO_DEBUG="1", DROPMATE_MAP_TILE_URL="", PYTHONUNBUFFERED="1")
    return env


@dataclass
class AsgiLiveServer:
    url: str
    port: int
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@pytest.fixture
def asgi_live_server(transactional_db, tmp_path):
    """Call it with extra environment variables (settings) to start daphne on the test
    database; it is stopped before the database is flushed."""
    started: list[subprocess.Popen] = []

    def start(**extra_env: str) -> AsgiLiveServer:
        env = {**server_env_for_test_db(), **extra_env}
        port = free_port()
        log = tmp_path / f"daphne-{port}.log"
        started.append(start_daphne(env, port, log=log))
        return AsgiLiveServer(url=f"http://127.0.0.1:{port}", port=port, log=log)

    yield start
    for proc in started:
        stop(proc)
