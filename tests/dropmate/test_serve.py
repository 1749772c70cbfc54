"""What `make run` does, end to end in real processes: migrate, seed, serve with daphne."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.realservices import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def served(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))},
        "DJANGO_DEBUG": "1",
        "SQLITE_PATH": str(tmp_path / "run.sqlite3"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    for command in (["migrate", "--no-input"], ["seed_demo"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "dropmate.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        yield f"http://127.0.0.1:{port}", result.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def test_daphne_serves_home_admin_and_probes_with_demo_data(served):
    base, seed_output = served
    assert "dispatch@dropmate.local" in seed_output
    status, html = _get(base + "/")
    assert status == 200 and "DropMate" in html
    status, html = _get(base + "/admin/login/")
    assert status == 200 and "DropMate back office" in html
    status, body = _get(base + "/health/ready")
    assert status == 200 and '"ready"' in body
    status, css = _get(base + "/static/css/app.css")
    assert status == 200 and "--accent" in css
