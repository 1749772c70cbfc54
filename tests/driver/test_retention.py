"""Replay records (`ReplayedUpdate`) are purged after DRIVER_REPLAY_RETENTION_DAYS, in small
batches, and only because no copy of a purged update can still be applied: the server refuses
queued updates older than DRIVER_REPLAY_MAX_AGE_DAYS (or dated too far ahead), and the
retention must outlive that window, which settings and the purge both enforce."""

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery import current_app
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from drivers import services
from drivers.models import ReplayedUpdate
from drivers.replay import updates_replay
from drivers.tasks import replayed_updates_purge_old
from shipments.lifecycle import Status

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """The server clock, moved forward as days pass in a test."""

    def __init__(self, real) -> None:
        self.real = real
        self.offset = timedelta(0)

    def now(self):
        return self.real() + self.offset

    def advance(self, **delta) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(timezone.now)
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


@pytest.fixture
def eager():
    """Run Celery tasks inline whatever the broker (REDIS_URL turns eager off)."""
    conf = current_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


def duty(on_duty: bool, *, at, client_id: uuid.UUID | None = None) -> dict:
    return {
        "client_id": str(client_id or uuid.uuid4()),
        "device_time": at.isoformat(),
        "type": "duty",
        "on_duty": on_duty,
    }


def status(shipment, to: str, *, at) -> dict:
    return {
        "client_id": str(uuid.uuid4()),
        "device_time": at.isoformat(),
        "type": "status",
        "shipment": shipment.tracking_number,
        "to": to,
    }


def records(driver, count: int, *, age: timedelta) -> list[int]:
    """`count` replay records of `driver`, written `age` ago."""
    now = timezone.now()
    rows = ReplayedUpdate.objects.bulk_create(
        ReplayedUpdate(
            driver=driver,
            client_id=uuid.uuid4(),
            kind="duty",
            device_time=now - age,
            outcome=ReplayedUpdate.Outcome.APPLIED,
            result={"status": "applied"},
        )
        for _ in range(count)
    )
    pks = [row.pk for row in rows]
    ReplayedUpdate.objects.filter(pk__in=pks).update(created_at=now - age)
    return pks


def test_records_older_than_the_retention_are_purged_and_newer_ones_kept(dan, job):
    shipment = job(Status.ASSIGNED)
    now = timezone.now()
    old, kept = (
        duty(False, at=now - timedelta(minutes=5)),
        status(shipment, Status.PICKED_UP, at=now),
    )
    results = updates_replay(driver=dan, items=[old, kept])
    assert [r["status"] for r in results] == ["applied", "applied"]
    ReplayedUpdate.objects.filter(client_id=old["client_id"]).update(
        created_at=now - timedelta(days=30, minutes=1)
    )
    ReplayedUpdate.objects.filter(client_id=kept["client_id"]).update(
        created_at=now - timedelta(days=29, hours=23)
    )

    assert services.replayed_updates_purge_old() == 1

    assert [str(c) for c in ReplayedUpdate.objects.values_list("client_id", flat=True)] == [
        kept["client_id"]
    ]


def test_a_backlog_is_purged_completely_in_bounded_batches(dan, erin, settings):
    settings.RETENTION_DELETE_BATCH_SIZE = 7
    old = records(dan, 40, age=timedelta(days=45)) + records(erin, 10, age=timedelta(days=31))
    recent = records(dan, 5, age=timedelta(days=2))

    with CaptureQueriesContext(connection) as queries:
        assert services.replayed_updates_purge_old() == len(old) == 50

    deletes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DELETE")]
    assert len(deletes) == 8  # ceil(50 / 7): one short statement per chunk
    assert not ReplayedUpdate.objects.filter(pk__in=old).exists()
    assert sorted(ReplayedUpdate.objects.values_list("pk", flat=True)) == sorted(recent)
    assert services.replayed_updates_purge_old() == 0


def test_the_purge_task_runs_through_celery_and_returns_the_count(dan, eager):
    records(dan, 3, age=timedelta(days=31))
    records(dan, 2, age=timedelta(days=1))

    assert replayed_updates_purge_old.delay().get(timeout=10) == 3
    assert ReplayedUpdate.objects.count() == 2


def test_the_purge_is_scheduled_with_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["drivers-purge-replayed-updates"]
    assert entry["task"] == "drivers.tasks.replayed_updates_purge_old"
    assert entry["task"] in current_app.tasks


def test_the_purge_refuses_a_retention_not_longer_than_the_replay_window(dan, settings):
    settings.DRIVER_REPLAY_MAX_AGE_DAYS = 7
    settings.DRIVER_REPLAY_MAX_FUTURE_HOURS = 24
    settings.DRIVER_REPLAY_RETENTION_DAYS = 8
    records(dan, 3, age=timedelta(days=10))

    with pytest.raises(ImproperlyConfigured, match="DRIVER_REPLAY_MAX_AGE_DAYS"):
        services.replayed_updates_purge_old()
    with pytest.raises(ImproperlyConfigured):
        services.replayed_updates_purge_old(days=3)
    assert ReplayedUpdate.objects.count() == 3

    # One hour past the window is enough.
    settings.DRIVER_REPLAY_MAX_FUTURE_HOURS = 23
    assert services.replayed_updates_purge_old() == 3


def _start(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DRIVER_REPLAY_")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "dropmate.settings", "DJANGO_DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_site_does_not_start_with_a_replay_retention_inside_the_window():
    too_short = _start({"DRIVER_REPLAY_RETENTION_DAYS": "8"})  # 7 days + 24 h: not longer
    assert too_short.returncode != 0
    assert "DRIVER_REPLAY_RETENTION_DAYS must be longer" in too_short.stderr

    longer = _start({"DRIVER_REPLAY_RETENTION_DAYS": "9"})
    assert longer.returncode == 0, longer.stderr
    shorter_window = _start(
        {"DRIVER_REPLAY_RETENTION_DAYS": "4", "DRIVER_REPLAY_MAX_AGE_DAYS": "2"}
    )
    assert shorter_window.returncode == 0, shorter_window.stderr


def test_an_update_resent_after_its_record_is_purged_is_refused_not_applied_again(
    dan, clock, eager
):
    off = duty(False, at=timezone.now())
    assert updates_replay(driver=dan, items=[off])[0]["status"] == "applied"
    clock.advance(hours=1)
    services.driver_duty_set(driver=dan, on_duty=True)

    # Within the retention, a copy (a lost response, a duplicated batch) is a duplicate.
    clock.advance(days=29)
    again = updates_replay(driver=dan, items=[off])[0]
    assert again["status"] == "duplicate" and again["original_status"] == "applied"

    clock.advance(days=1)
    assert replayed_updates_purge_old.delay().get(timeout=10) == 1
    late = updates_replay(driver=dan, items=[off])[0]

    assert late["status"] == "rejected"
    assert late["error"]["code"] == "outside_replay_window"
    dan.refresh_from_db()
    assert dan.on_duty is True  # the old "off duty" was not applied a second time


def test_an_update_queued_longer_than_the_max_age_is_rejected_and_one_inside_applied(dan, job):
    shipment = job(Status.ASSIGNED)
    now = timezone.now()
    too_old = status(shipment, Status.PICKED_UP, at=now - timedelta(days=7, minutes=1))

    result = updates_replay(driver=dan, items=[too_old])[0]

    assert result["status"] == "rejected"
    assert result["error"]["code"] == "outside_replay_window"
    assert "7 days" in result["error"]["message"]
    shipment.refresh_from_db()
    assert shipment.status == Status.ASSIGNED
    # Stored like any refused update: a copy gets the same answer back.
    assert updates_replay(driver=dan, items=[too_old])[0]["status"] == "duplicate"

    inside = status(shipment, Status.PICKED_UP, at=now - timedelta(days=6, hours=23))
    assert updates_replay(driver=dan, items=[inside])[0]["status"] == "applied"
    shipment.refresh_from_db()
    assert shipment.status == Status.PICKED_UP


def test_an_update_dated_too_far_ahead_is_rejected_and_a_slightly_fast_clock_is_fine(dan):
    now = timezone.now()
    ahead = duty(False, at=now + timedelta(hours=25))

    result = updates_replay(driver=dan, items=[ahead])[0]

    assert result["status"] == "rejected"
    assert result["error"]["code"] == "outside_replay_window"
    dan.refresh_from_db()
    assert dan.on_duty is True

    fast = duty(False, at=now + timedelta(hours=2))
    assert updates_replay(driver=dan, items=[fast])[0]["status"] == "applied"
    dan.refresh_from_db()
    assert dan.on_duty is False
