"""The sender: one claim per row, the provider id recorded, retries with growing jittered
delays below the visibility timeout, `failed` after the last attempt, and the sweep."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications import delivery, services
from notifications.models import Notification
from notifications.transports import PermanentTransportError, TransportError
from tests.notifications.conftest import RecordingSms

Q = Notification.Status


def queued(user, scope="s", event_key="eta_updated", **extra):
    return services.notification_write(
        event_key=event_key, recipient=user, audience="customer", scope=scope, extra=extra
    )


def test_only_one_claim_wins(alice):
    row = queued(alice)
    assert delivery.notification_claim(notification_id=row.pk) is not None
    assert delivery.notification_claim(notification_id=row.pk) is None
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Q.SENDING, 1)


def test_sent_row_records_provider_id_and_is_never_sent_again(alice, sms_outbox):
    alice.notify_email, alice.notify_sms = False, True
    alice.save()
    row = queued(alice)
    assert delivery.notification_deliver(notification_id=row.pk) is None
    row.refresh_from_db()
    assert (row.status, row.provider_id, row.attempts) == (Q.SENT, "rec-1", 1)
    assert row.sent_at is not None
    # A redelivered task message finds nothing to claim.
    delivery.notification_deliver(notification_id=row.pk)
    assert len(sms_outbox) == 1
    assert sms_outbox[0]["key"] == row.idempotency_key


def test_provider_error_requeues_with_a_later_attempt(alice, sms_outbox, settings):
    settings.NOTIFY_RETRY_BASE_DELAY = 10
    alice.notify_email, alice.notify_sms = False, True
    alice.save()
    RecordingSms.fail_with = TransportError("HTTP 502: bad gateway")
    row = queued(alice)
    before = timezone.now()
    delay = delivery.notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert 5 <= delay <= 10
    assert row.status == Q.QUEUED and row.attempts == 1
    assert row.last_error == "HTTP 502: bad gateway"
    assert row.send_after >= before + timedelta(seconds=5)


def test_permanent_error_fails_at_once(alice, sms_outbox):
    alice.notify_email, alice.notify_sms = False, True
    alice.save()
    RecordingSms.fail_with = PermanentTransportError("HTTP 400: not a mobile number")
    row = queued(alice)
    assert delivery.notification_deliver(notification_id=row.pk) is None
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Q.FAILED, 1)
    assert "not a mobile number" in row.last_error


def test_last_attempt_marks_the_row_failed(alice, sms_outbox, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    alice.notify_email, alice.notify_sms = False, True
    alice.save()
    RecordingSms.fail_with = TransportError("timeout")
    row = queued(alice)
    assert delivery.notification_deliver(notification_id=row.pk) is not None
    assert delivery.notification_deliver(notification_id=row.pk, wait=False) is None
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (Q.FAILED, 2, "timeout")


def test_duplicate_message_arriving_early_does_not_cut_the_backoff_short(
    alice, sms_outbox, settings
):
    settings.NOTIFY_RETRY_BASE_DELAY = 60
    alice.notify_email, alice.notify_sms = False, True
    alice.save()
    RecordingSms.fail_with = TransportError("HTTP 503")
    row = queued(alice)
    delivery.notification_deliver(notification_id=row.pk)
    RecordingSms.fail_with = None
    # A second task message for the same row (e.g. from the sweep) before the retry is due.
    assert delivery.notification_claim(notification_id=row.pk) is None
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Q.QUEUED, 1)
    # Once due, it is sent.
    Notification.objects.filter(pk=row.pk).update(send_after=timezone.now())
    delivery.notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Q.SENT, 2)


def test_retry_delays_grow_with_jitter_and_stay_below_visibility_timeout(settings):
    settings.NOTIFY_RETRY_BASE_DELAY = 30
    settings.NOTIFY_RETRY_MAX_DELAY = 10_000
    settings.CELERY_VISIBILITY_TIMEOUT = 3600
    samples = {a: [delivery.retry_delay(attempt=a) for _ in range(200)] for a in range(1, 20)}
    for attempt, delays in samples.items():
        step = min(30 * 2 ** (attempt - 1), 3600 * 0.8)
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) < settings.CELERY_VISIBILITY_TIMEOUT
    # Jitter: retries of many messages spread out instead of arriving together.
    assert len({round(d, 3) for d in samples[3]}) > 50
    # Growth: every delay of attempt n+1 is at least every delay of attempt n (until the cap).
    for attempt in range(1, 7):
        assert min(samples[attempt + 1]) >= max(samples[attempt]) - 1e-9


def test_sweep_requeues_lost_and_abandoned_rows_but_not_fresh_ones(eager, alice, settings):
    settings.NOTIFY_STUCK_AFTER = 60
    settings.NOTIFY_SENDING_TIMEOUT = 120
    old = timezone.now() - timedelta(minutes=10)
    lost = queued(alice, scope="lost")
    abandoned = queued(alice, scope="abandoned")
    fresh = queued(alice, scope="fresh")
    waiting = queued(alice, scope="waiting")
    Notification.objects.filter(pk=lost.pk).update(updated_at=old)
    Notification.objects.filter(pk=abandoned.pk).update(
        status=Q.SENDING, claimed_at=old, updated_at=old, attempts=1
    )
    # Waiting for its retry countdown: not lost.
    Notification.objects.filter(pk=waiting.pk).update(
        updated_at=old, send_after=timezone.now() + timedelta(seconds=30)
    )
    mail.outbox.clear()

    counts = delivery.notifications_sweep()

    assert counts == {"released": 0, "orphaned": 1, "lost": 1, "scrubbed": 0}
    statuses = dict(Notification.objects.values_list("pk", "status"))
    assert statuses[lost.pk] == Q.SENT and statuses[abandoned.pk] == Q.SENT
    assert statuses[fresh.pk] == Q.QUEUED and statuses[waiting.pk] == Q.QUEUED
    assert len(mail.outbox) == 2


def test_enqueue_failure_leaves_the_row_for_the_sweep(alice, monkeypatch):
    from kombu.exceptions import OperationalError

    from notifications.tasks import send_notification

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(send_notification, "apply_async", broker_down)
    delivery._broker_down_until = 0.0
    row = queued(alice)
    assert delivery.enqueue(notification_id=row.pk) is False
    # Later commits do not wait on the broker again for a while.
    assert delivery._broker_down_until > 0
    delivery._broker_down_until = 0.0
    row.refresh_from_db()
    assert row.status == Q.QUEUED


@pytest.mark.parametrize("backend", ["console", "file"])
def test_embedded_sms_backends_accept_messages(alice, settings, tmp_path, capsys, backend):
    from notifications.transports import sms

    settings.SMS_BACKEND = backend
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    sms._backend.cache_clear()
    alice.notify_email, alice.notify_sms = False, True
    alice.save()
    row = queued(alice)
    delivery.notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert row.status == Q.SENT and row.provider_id.startswith(backend)
    if backend == "console":
        assert f"SMS to {alice.phone}: {row.body}" in capsys.readouterr().out
    else:
        assert row.idempotency_key in (tmp_path / "sms.jsonl").read_text()
    sms._backend.cache_clear()
