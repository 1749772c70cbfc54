"""Delivery with real components: a Celery worker and beat as subprocesses on Redis, the
test's PostgreSQL database, an SMTP sink and a Twilio-compatible HTTP SMS sink that record what
arrives (keyed by the notification's idempotency key) and can answer errors.

Skipped without PostgreSQL and Redis (failed when DROPMATE_REQUIRE_SERVICES=1)."""

import time
from collections import Counter

import pytest
from django.db import transaction

from notifications import services
from notifications.models import Notification
from tests.factories import UserFactory
from tests.notifications.sinks import SmsSink, SmtpSink
from tests.notifications.stack import CeleryStack, purge_celery_keys, wait_until
from tests.realservices import redis_url, require_postgres

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

Q = Notification.Status


@pytest.fixture(scope="module")
def sinks():
    smtp, sms = SmtpSink().start(), SmsSink().start()
    yield smtp, sms
    smtp.stop()
    sms.stop()


@pytest.fixture(scope="module")
def stack(django_db_setup, sinks, tmp_path_factory):
    require_postgres()
    url = redis_url()
    purge_celery_keys(url)
    smtp, sms = sinks
    stack = CeleryStack(
        redis_url=url,
        smtp_port=smtp.port,
        sms_port=sms.port,
        workdir=tmp_path_factory.mktemp("celery"),
    )
    try:
        stack.start_beat()
        stack.start_worker()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def fresh_sinks(sinks):
    smtp, sms = sinks
    smtp.clear()
    sms.reset()
    return smtp, sms


def email_user(**kw):
    return UserFactory(notify_email=True, notify_sms=False, **kw)


def sms_user(**kw):
    return UserFactory(notify_email=False, notify_sms=True, **kw)


def write_many(users, count: int, prefix: str, event_key: str = "bulk_test") -> list[str]:
    """Commit `count` notifications spread over `users`; returns their keys."""
    keys = []
    with transaction.atomic():
        for i in range(count):
            row = services.notification_write(
                event_key=event_key,
                recipient=users[i % len(users)],
                audience="customer",
                scope=f"{prefix}.{i}",
                extra={"message": f"Update {i}"},
            )
            keys.append(row.idempotency_key)
    return keys


def statuses(keys) -> Counter:
    return Counter(
        Notification.objects.filter(idempotency_key__in=keys).values_list("status", flat=True)
    )


def test_worker_killed_midway_still_delivers_all_500(stack, fresh_sinks, capsys):
    smtp, sms = fresh_sinks
    keys = write_many([email_user(), sms_user()], 500, "kill")

    def received() -> list[str]:
        return smtp.received_keys() + sms.received_keys()

    assert wait_until(lambda: len(received()) >= 120, timeout=60), stack.logs()
    stack.kill_worker()
    at_kill = len(received())
    stack.start_worker()
    restarted = time.monotonic()

    done = wait_until(
        lambda: statuses(keys)[Q.SENT] == 500 and set(keys) <= set(received()), timeout=90
    )
    recovery = time.monotonic() - restarted
    arrived = Counter(k for k in received() if k in set(keys))
    duplicates = {k: n for k, n in arrived.items() if n > 1}
    with capsys.disabled():
        print(
            f"\n[notifications] 500 messages, worker SIGKILLed after {at_kill} arrived: "
            f"{len(arrived)} distinct arrived, {sum(arrived.values()) - len(arrived)} "
            f"duplicate(s) {sorted(duplicates)}; the rest arrived {recovery:.1f}s after restart"
        )
    assert done, (statuses(keys), stack.logs())
    assert at_kill < 500, "the kill did not happen midway"
    assert len(arrived) == 500
    # Only a message in the provider's hands at the instant of the kill may arrive twice:
    # at most one per worker thread (4).
    assert sum(arrived.values()) - 500 <= 4, duplicates


def test_sms_failing_three_times_is_delivered_once_with_growing_delays(stack, fresh_sinks):
    smtp, sms = fresh_sinks
    sms.reset(fail_first=3)
    keys = write_many([sms_user()], 5, "flaky")

    assert wait_until(lambda: statuses(keys)[Q.SENT] == 5, timeout=60), (
        statuses(keys),
        stack.logs(),
    )
    assert Counter(sms.received_keys()) == dict.fromkeys(keys, 1)
    for key in keys:
        tries = sms.attempts[key]
        assert len(tries) == 4
        gaps = [b - a for a, b in zip(tries, tries[1:], strict=False)]
        # Backoff doubles from 0.4s with equal jitter: attempt n waits between half and all
        # of 0.4 * 2**(n-1) seconds (plus the worker's own latency), so the waits grow.
        for gap, floor in zip(gaps, (0.2, 0.4, 0.8), strict=True):
            assert gap >= floor - 0.02, gaps
        assert gaps[2] > gaps[0], gaps
    for row in Notification.objects.filter(idempotency_key__in=keys):
        assert (row.attempts, row.last_error) == (4, "")
        assert row.provider_id.startswith("SM")


def test_sms_that_always_fails_ends_failed_with_the_error_and_falls_back(stack, fresh_sinks):
    smtp, sms = fresh_sinks
    sms.reset(always_fail=True)
    keys = write_many([sms_user(), sms_user()], 2, "dead")
    both = UserFactory(notify_email=True, notify_sms=True)
    fallback_from = write_many([both], 1, "dead-fb", event_key="driver_nearby")

    assert wait_until(lambda: statuses(keys + fallback_from)[Q.FAILED] == 3, timeout=60), (
        statuses(keys + fallback_from),
        stack.logs(),
    )
    for row in Notification.objects.filter(idempotency_key__in=keys + fallback_from):
        assert row.attempts == 5
        assert row.last_error.startswith("HTTP 500")
        assert row.channel == "sms"
    assert sms.received_keys() == []
    # The recipient who allows email gets it there instead.
    fallback = Notification.objects.get(fallback_of__idempotency_key=fallback_from[0])
    assert wait_until(lambda: statuses([fallback.idempotency_key])[Q.SENT] == 1, timeout=30)
    assert smtp.received_keys().count(fallback.idempotency_key) == 1
    assert fallback.channel == "email"


def test_handover_pin_reaches_both_providers_through_retries_and_leaves_no_trace(
    stack, fresh_sinks
):
    smtp, sms = fresh_sinks
    sms.reset(fail_first=2)
    pins = {"email": "730518", "sms": "264907"}
    with transaction.atomic():
        rows = {
            channel: services.notification_write(
                event_key="handover_pin",
                recipient=user,
                audience="customer",
                scope=f"pin.{channel}",
                extra={"pin": pins[channel], "tracking_number": "DM-PIN"},
            )
            for channel, user in (("email", email_user()), ("sms", sms_user()))
        }
    keys = [row.idempotency_key for row in rows.values()]

    assert wait_until(lambda: statuses(keys)[Q.SENT] == 2, timeout=60), (
        statuses(keys),
        stack.logs(),
    )
    [mail] = [m for m in smtp.messages if m.key == rows["email"].idempotency_key]
    [text] = [m for m in sms.accepted if m.key == rows["sms"].idempotency_key]
    assert pins["email"] in mail.body and pins["sms"] in text.body
    assert len(sms.attempts[rows["sms"].idempotency_key]) == 3
    for channel, row in rows.items():
        row.refresh_from_db()
        stored = "\n".join([row.subject, row.body, row.body_html, str(row.payload)])
        assert pins[channel] not in stored and "••••" in row.body
