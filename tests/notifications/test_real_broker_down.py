"""Redis paused (SIGSTOP on a private redis-server) while 100 notifications commit: the
commits do not hang, the rows stay queued, and once Redis is back the sweep delivers all 100
through a real Celery worker. In its own module so no other worker's sweep is running."""

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest

from notifications.models import Notification
from tests.factories import UserFactory
from tests.notifications.sinks import SmsSink, SmtpSink
from tests.notifications.stack import CeleryStack, wait_until
from tests.realservices import require_postgres, start_redis_server

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

Q = Notification.Status


def statuses(keys) -> Counter:
    return Counter(
        Notification.objects.filter(idempotency_key__in=keys).values_list("status", flat=True)
    )


def test_commits_while_redis_is_paused_are_delivered_by_the_sweep(
    django_db_setup, tmp_path, capsys
):
    require_postgres()
    smtp, sms = SmtpSink().start(), SmsSink().start()
    redis_proc, url = start_redis_server()
    private = CeleryStack(redis_url=url, smtp_port=smtp.port, sms_port=sms.port, workdir=tmp_path)
    try:
        private.start_beat()
        private.start_worker()
        user = UserFactory(notify_email=True, notify_sms=False)
        os.kill(redis_proc.pid, signal.SIGSTOP)
        produced = subprocess.run(
            [sys.executable, "-m", "tests.notifications.produce", str(user.pk), "100", "paused"],
            env=private.env(CELERY_BROKER_SOCKET_TIMEOUT="1"),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert produced.returncode == 0, produced.stderr[-3000:]
        seconds = float(produced.stdout.split("seconds=")[1])
        with capsys.disabled():
            print(f"\n[notifications] 100 commits with Redis paused took {seconds:.1f}s")
        # The broker being down costs one timeout, not one per commit.
        assert seconds < 20, produced.stdout
        keys = list(
            Notification.objects.filter(recipient=user).values_list("idempotency_key", flat=True)
        )
        assert len(keys) == 100
        assert statuses(keys) == {Q.QUEUED: 100}

        os.kill(redis_proc.pid, signal.SIGCONT)
        assert wait_until(lambda: statuses(keys)[Q.SENT] == 100, timeout=90), (
            statuses(keys),
            private.logs(),
        )
        assert set(keys) <= set(smtp.received_keys())
        assert len([k for k in smtp.received_keys() if k in set(keys)]) == 100
    finally:
        os.kill(redis_proc.pid, signal.SIGCONT)
        private.stop()
        smtp.stop()
        sms.stop()
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
