"""A real Celery worker (and beat) as subprocesses against the test's PostgreSQL database and a
Redis broker, sending to the sinks in `tests.notifications.sinks`."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

# Short timings so retries, the sweep and recovery happen within seconds.
FAST = {
    "NOTIFY_MAX_ATTEMPTS": "5",
    "NOTIFY_RETRY_BASE_DELAY": "0.4",
    "NOTIFY_RETRY_MAX_DELAY": "2",
    "NOTIFY_STUCK_AFTER": "8",
    "NOTIFY_SENDING_TIMEOUT": "4",
    "NOTIFY_SWEEP_INTERVAL": "1",
    "NOTIFY_BROKER_DOWN_BACKOFF": "30",
    "CELERY_BROKER_SOCKET_TIMEOUT": "2",
    "CELERY_VISIBILITY_TIMEOUT": "60",
    "NOTIFY_QUIET_HOURS": "",
    "NOTIFY_LATE_CHECK_INTERVAL": "3600",
    "NOTIFY_SILENT_CHECK_INTERVAL": "3600",
    "NOTIFY_FAILED_CHECK_INTERVAL": "3600",
}


def test_database_url() -> str:
    """The database this test process uses, as a URL a subprocess can use."""
    s = connection.settings_dict
    auth = quote(s.get("USER") or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host, port = s.get("HOST") or "127.0.0.1", s.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}"


test_database_url.__test__ = False  # not a test, despite the name


def purge_celery_keys(redis_url: str) -> None:
    """Drop Celery's queue and unacked messages left by earlier runs on this Redis db."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.delete("celery", "unacked", "unacked_index", "unacked_mutex")
    finally:
        client.close()


class CeleryStack:
    def __init__(
        self,
        *,
        redis_url: str,
        smtp_port: int,
        sms_port: int,
        workdir: Path,
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.overrides = overrides or {}
        self.redis_url = redis_url
        self.smtp_port = smtp_port
        self.sms_port = sms_port
        self.workdir = workdir
        self.worker: subprocess.Popen | None = None
        self.beat: subprocess.Popen | None = None
        self.worker_starts = 0

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env.update(FAST)
        env.update(
            DJANGO_SETTINGS_MODULE="dropmate.settings",
            DJANGO_DEBUG="1",
            DATABASE_URL=test_database_url(),
            DB_POOL_MIN_SIZE="1",
            DB_POOL_MAX_SIZE="8",
            REDIS_URL=self.redis_url,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(self.smtp_port),
            EMAIL_TIMEOUT="5",
            SMS_BACKEND="twilio",
            SMS_TIMEOUT="5",
            TWILIO_API_BASE=f"http://127.0.0.1:{self.sms_port}",
            TWILIO_ACCOUNT_SID="ACtest",
            TWILIO_AUTH_TOKEN="secret",
            TWILIO_FROM_NUMBER="+32460000000",
            DROPMATE_BASE_URL=settings.DROPMATE_BASE_URL,
            LOG_LEVEL="INFO",
        )
        env.update(self.overrides)
        env.update(extra)
        return env

    def _spawn(self, args: list[str], log_name: str) -> tuple[subprocess.Popen, Path]:
        log = self.workdir / log_name
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "dropmate", *args],
                cwd=settings.BASE_DIR,
                env=self.env(),
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return proc, log

    def start_worker(self, timeout: float = 60) -> None:
        self.worker_starts += 1
        name = f"notifytest-{uuid.uuid4().hex[:8]}@%h"
        self.worker, log = self._spawn(
            [
                "worker",
                "-P",
                "threads",
                "-c",
                "4",
                "-l",
                "INFO",
                "-n",
                name,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            f"worker-{self.worker_starts}.log",
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in log.read_bytes():
                return
            if self.worker.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"Celery worker did not start:\n{log.read_text()[-3000:]}")

    def start_beat(self) -> None:
        self.beat, _ = self._spawn(
            ["beat", "-l", "INFO", "-s", str(self.workdir / "beat-schedule")], "beat.log"
        )

    def kill_worker(self) -> None:
        """SIGKILL: no shutdown, no acks, whatever was in flight is lost mid-way."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)

    def stop(self) -> None:
        # Nothing to preserve at teardown: kill outright rather than wait for a warm shutdown.
        for proc in (self.worker, self.beat):
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in sorted(self.workdir.glob("*.log")))


def wait_until(predicate, *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
