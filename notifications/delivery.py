"""Sending outbox rows, run by the Celery task in `notifications.tasks`.

A row moves queued → sending → sent, or back to queued with a later `send_after` while
attempts remain, or to failed (then the recipient's other allowed channel gets the message).
Only the worker whose conditional update moves a row from queued to sending sends it; the
sweep puts back rows nobody picked up (a lost enqueue, e.g. the broker was down at commit) and
rows a dead worker left in sending.

A row that carried a secret (a handover PIN) loses it in the update that finishes it, and
after writing the fallback when it fails for good (see `notifications.redaction`); a retry
keeps it. Errors are stored and logged with the secret masked.
"""

import logging
import random
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from notifications import redaction, transports
from notifications.models import Notification

log = logging.getLogger(__name__)

# While the broker refuses publishes, skip further attempts until this monotonic time so a
# burst of commits is not slowed down one timeout each; the sweep sends those rows later.
_broker_down_until = 0.0
CLAIM_EARLY_TOLERANCE = timedelta(milliseconds=200)


def enqueue(*, notification_id: int, countdown: float | None = None) -> bool:
    """Publish the send task for one row. Never raises: a row whose enqueue failed stays
    queued and the sweep picks it up. Returns whether the task was published."""
    global _broker_down_until
    from notifications.tasks import send_notification

    if time.monotonic() < _broker_down_until:
        log.info("Broker marked down; notification %s left for the sweep", notification_id)
        return False
    try:
        send_notification.apply_async((notification_id,), countdown=countdown, retry=False)
    except (KombuError, OSError) as exc:  # the broker is unreachable: the row waits
        _broker_down_until = time.monotonic() + settings.NOTIFY_BROKER_DOWN_BACKOFF
        log.warning(
            "Could not enqueue notification %s (%s: %s); the sweep will send it",
            notification_id,
            type(exc).__name__,
            exc,
        )
        return False
    return True


def retry_delay(*, attempt: int) -> float:
    """Exponential backoff with jitter after failed attempt number `attempt` (1-based).

    "Equal jitter": half the exponential step plus a random part of the other half, so delays
    grow with each attempt yet spread retries of many messages. Always below the broker's
    visibility timeout, or Redis would hand a task that is only waiting to another worker.
    """
    cap = min(settings.NOTIFY_RETRY_MAX_DELAY, settings.CELERY_VISIBILITY_TIMEOUT * 0.8)
    step = min(cap, settings.NOTIFY_RETRY_BASE_DELAY * 2 ** min(attempt - 1, 30))
    return step / 2 + random.uniform(0, step / 2)


def notification_claim(*, notification_id: int, wait: bool = True) -> Notification | None:
    """Move the row from queued to sending; None when another worker has it, it is done, or
    (with `wait`) its next attempt is not due yet: a duplicate task message arriving early
    must not cut a backoff short. The eager (in-process) mode has no beat to come back later,
    so it retries at once (`wait=False`)."""
    now = timezone.now()
    # A timer may fire a hair early; only a message well ahead of time is turned away.
    due = Q(send_after__isnull=True) | Q(send_after__lte=now + CLAIM_EARLY_TOLERANCE)
    due = due if wait else Q()
    claimed = Notification.objects.filter(
        due, pk=notification_id, status=Notification.Status.QUEUED
    ).update(
        status=Notification.Status.SENDING,
        claimed_at=now,
        last_attempt_at=now,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    if not claimed:
        return None
    return Notification.objects.select_related("recipient").get(pk=notification_id)


def notification_deliver(*, notification_id: int, wait: bool = True) -> float | None:
    """Send one row if this caller can claim it (see `notification_claim` for `wait`).

    Returns the countdown before the next attempt when the provider failed and attempts
    remain (the caller enqueues it), else None.
    """
    row = notification_claim(notification_id=notification_id, wait=wait)
    if row is None:
        return None
    try:
        provider_id = transports.send(row)
    except transports.PermanentTransportError as exc:
        notification_fail(notification=row, error=str(exc))
        return None
    except Exception as exc:  # a provider or network error: retried, then failed
        error = str(exc) if isinstance(exc, transports.TransportError) else repr(exc)
        error = redaction.mask_text(error, row)
        if row.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
            notification_fail(notification=row, error=error)
            return None
        delay = retry_delay(attempt=row.attempts)
        now = timezone.now()
        Notification.objects.filter(pk=row.pk, status=Notification.Status.SENDING).update(
            status=Notification.Status.QUEUED,
            last_error=error[:2000],
            send_after=now + timedelta(seconds=delay),
            claimed_at=None,
            updated_at=now,
        )
        log.info("Notification %s attempt %s failed: %s", row.pk, row.attempts, error)
        return delay
    now = timezone.now()
    Notification.objects.filter(pk=row.pk, status=Notification.Status.SENDING).update(
        status=Notification.Status.SENT,
        provider_id=provider_id[:128],
        sent_at=now,
        send_after=None,
        last_error="",
        updated_at=now,
        **redaction.scrubbed_fields(row),
    )
    return None


@transaction.atomic
def notification_fail(*, notification: Notification, error: str) -> Notification | None:
    """Mark a row failed for good and write its fallback on the recipient's other allowed
    channel (enqueued on commit), then scrub the row's secrets: the fallback is written from
    `notification` as claimed, so it still carries them. Returns the fallback row, if any."""
    from notifications.services import notification_fallback

    error = redaction.mask_text(error, notification)
    updated = Notification.objects.filter(
        pk=notification.pk, status=Notification.Status.SENDING
    ).update(status=Notification.Status.FAILED, last_error=error[:2000], updated_at=timezone.now())
    if not updated:
        return None
    notification.status = Notification.Status.FAILED
    log.warning(
        "Notification %s (%s by %s) failed for good after %s attempts: %s",
        notification.pk,
        notification.event_key,
        notification.channel,
        notification.attempts,
        error,
    )
    fallback = notification_fallback(notification=notification)
    scrubbed = redaction.scrubbed_fields(notification)
    if scrubbed:
        Notification.objects.filter(pk=notification.pk, status=Notification.Status.FAILED).update(
            **scrubbed
        )
    return fallback


def notifications_scrub_done(*, limit: int) -> int:
    """Take the secrets out of rows that are done but still hold them: a safety net for rows
    finished by anything other than this module (e.g. marked skipped). Returns how many."""
    Status = Notification.Status
    done = Notification.objects.filter(
        status__in=[Status.SENT, Status.FAILED, Status.SKIPPED], payload__has_key="secrets"
    ).order_by("pk")[:limit]
    count = 0
    for row in done:
        count += Notification.objects.filter(pk=row.pk, status=row.status).update(
            **redaction.scrubbed_fields(row)
        )
    return count


def _ids(qs, limit: int) -> list[int]:
    return list(qs.order_by("pk").values_list("pk", flat=True)[:limit])


def notifications_sweep(*, limit: int | None = None) -> dict[str, int]:
    """Queue again what would otherwise never be sent, and enqueue it:
    held rows whose quiet hours are over, rows left in sending by a worker that died, and
    queued rows nobody picked up within NOTIFY_STUCK_AFTER seconds. Also scrubs rows that are
    done yet still hold a secret (`notifications_scrub_done`)."""
    limit = limit or settings.NOTIFY_SWEEP_BATCH
    now = timezone.now()
    stuck = now - timedelta(seconds=settings.NOTIFY_STUCK_AFTER)
    abandoned = now - timedelta(seconds=settings.NOTIFY_SENDING_TIMEOUT)
    Status = Notification.Status

    released = _ids(Notification.objects.filter(status=Status.HELD, send_after__lte=now), limit)
    Notification.objects.filter(pk__in=released, status=Status.HELD).update(
        status=Status.QUEUED, updated_at=now
    )
    orphaned = _ids(
        Notification.objects.filter(status=Status.SENDING, claimed_at__lt=abandoned), limit
    )
    Notification.objects.filter(
        pk__in=orphaned, status=Status.SENDING, claimed_at__lt=abandoned
    ).update(
        status=Status.QUEUED,
        claimed_at=None,
        send_after=None,
        last_error="The worker stopped while sending; queued again by the sweep.",
        updated_at=now,
    )
    lost = _ids(
        Notification.objects.filter(status=Status.QUEUED).filter(
            Q(send_after__isnull=True, updated_at__lt=stuck) | Q(send_after__lt=stuck)
        ),
        limit,
    )
    # Touch them so the next sweep gives this enqueue time to be consumed.
    Notification.objects.filter(pk__in=lost, status=Status.QUEUED).update(updated_at=now)
    for pk in [*released, *orphaned, *lost]:
        enqueue(notification_id=pk)
    counts = {"released": len(released), "orphaned": len(orphaned), "lost": len(lost)}
    counts["scrubbed"] = notifications_scrub_done(limit=limit)
    if any(counts.values()):
        log.info("Notification sweep: %s", counts)
    return counts
