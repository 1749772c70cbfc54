"""The Makefile's interpreter finder: a PYTHON override wins; too old a Python is refused."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "bin" / "find-python")],
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_python_override_wins():
    result = run({"PYTHON": sys.executable})
    assert result.returncode == 0
    assert result.stdout.strip() == sys.executable


def test_too_old_override_is_refused_with_a_clear_message(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    result = run({"PYTHON": str(fake)})
    assert result.returncode != 0
    assert "not Python 3.12 or newer" in result.stderr


def test_finds_pyenv_installs_when_path_has_none(tmp_path):
    versions = tmp_path / ".pyenv" / "versions" / "3.12.9" / "bin"
    versions.mkdir(parents=True)
    (versions / "python3").symlink_to(sys.executable)
    result = run({"HOME": str(tmp_path), "PATH": str(tmp_path / "empty")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(versions / "python3")


def test_says_what_to_do_when_there_is_no_suitable_python(tmp_path):
    result = run({"HOME": str(tmp_path), "PATH": str(tmp_path / "empty")})
    assert result.returncode != 0
    assert "needs Python 3.12 or newer" in result.stderr
    assert "PYTHON=" in result.stderr
