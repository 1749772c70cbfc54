"""Writes a driver makes: duty, answering an offered job, moving a job, delivering it.

Status changes go through `shipments.services.shipment_transition`; these functions only add
what the driver portal needs around it (the reason list, PIN and proof of delivery).
"""

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from drivers.models import Driver, DriverMessage, ReplayedUpdate
from dropmate.lib.exceptions import Invalid, InvalidTransition, NotFound
from dropmate.lib.retention import rows_delete_in_batches
from shipments import lifecycle
from shipments.handover import handover_pin_verify
from shipments.lifecycle import Status
from shipments.models import ProofOfDelivery, Shipment, ShipmentEvent
from shipments.services import _record_event, shipment_transition

FAILED_REASONS = dict(lifecycle.FAILED_ATTEMPT_REASONS)
DECLINE_REASONS = (
    ("too_far", "Too far from my route"),
    ("no_capacity", "No room in my vehicle"),
    ("shift_ending", "My shift ends before the window"),
    ("vehicle_problem", "Vehicle problem"),
    ("other", "Other"),
)
# Marks the driver's "yes" to an offered job on the timeline (a note event: status unchanged).
ACCEPTED_MARK = "driver_accepted"


def driver_duty_set(*, driver: Driver, on_duty: bool) -> Driver:
    """Go on or off duty. Off duty hides the driver from dispatch (which lists on-duty drivers)
    and the page stops sharing location."""
    with transaction.atomic():
        locked = Driver.objects.select_for_update().get(pk=driver.pk)
        if locked.on_duty != on_duty:
            locked.on_duty = on_duty
            locked.on_duty_since = timezone.now() if on_duty else None
            locked.save(update_fields=["on_duty", "on_duty_since"])
            from tracking.broadcast import driver_duty_push

            # The socket path holds the driver's duty state in each server process: their
            # sockets hear this and drop it (and the driver app shows the new state).
            transaction.on_commit(partial(driver_duty_push, driver_id=locked.pk, on_duty=on_duty))
            if not on_duty:
                from drivers.planning.triggers import on_driver_off_duty

                # Their not-yet-started jobs are re-planned onto others, after commit.
                on_driver_off_duty(locked.pk)
    driver.on_duty, driver.on_duty_since = locked.on_duty, locked.on_duty_since
    return driver


def _own_job_locked(*, driver: Driver, shipment: Shipment) -> Shipment:
    locked = (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("driver")
        .filter(pk=shipment.pk)
        .first()
    )
    if locked is None or locked.driver_id != driver.pk:
        raise NotFound("No such shipment.")
    return locked


def job_accepted_by_driver(*, shipment: Shipment) -> bool:
    """Whether the current driver has said yes since the job was (re)assigned to them."""
    last_assignment = (
        shipment.events.filter(kind=ShipmentEvent.Kind.ASSIGNMENT).order_by("-seq").first()
    )
    after = last_assignment.seq if last_assignment else 0
    return shipment.events.filter(
        kind=ShipmentEvent.Kind.NOTE, seq__gt=after, data__mark=ACCEPTED_MARK
    ).exists()


@transaction.atomic
def driver_job_accept(*, driver: Driver, shipment: Shipment) -> Shipment:
    """Say yes to an offered (assigned) job. The status stays `assigned`; a note on the
    timeline tells dispatch. Accepting twice changes nothing."""
    locked = _own_job_locked(driver=driver, shipment=shipment)
    if locked.status != Status.ASSIGNED:
        raise InvalidTransition(
            f"This job is {locked.get_status_display().lower()}; only an offered job can be "
            "accepted.",
            details={"current_status": locked.status, "current_version": locked.version},
        )
    if not job_accepted_by_driver(shipment=locked):
        _record_event(
            shipment=locked,
            kind=ShipmentEvent.Kind.NOTE,
            from_status=locked.status,
            actor=driver.user,
            note="Driver accepted the job",
            data={"mark": ACCEPTED_MARK, "driver_id": driver.pk},
        )
    return locked


def driver_job_decline(
    *, driver: Driver, shipment: Shipment, reason: str, note: str = ""
) -> Shipment:
    """Decline an offered job: it goes back to the dispatch queue (`accepted`) with the reason
    on the timeline for staff."""
    label = dict(DECLINE_REASONS).get(reason)
    if label is None:
        raise Invalid("Choose why you decline this job.", details={"field": "reason"})
    note = (note or "").strip()
    if reason == "other" and not note:
        raise Invalid("Say why you decline this job.", details={"field": "note"})
    if shipment.driver_id != driver.pk:
        raise NotFound("No such shipment.")
    text = f"Declined by driver: {label}" + (f" — {note}" if note else "")
    return shipment_transition(
        shipment=shipment,
        to=Status.ACCEPTED,
        actor=driver.user,
        reason=text,
        data={"declined": reason},
    )


def failed_attempt_reason(*, reason: str, note: str = "") -> str:
    """The timeline text for a failed attempt; `reason` must be one of the lifecycle's."""
    label = FAILED_REASONS.get(reason)
    note = (note or "").strip()
    if label is None:
        raise Invalid("Choose why the delivery failed.", details={"field": "reason"})
    if reason == "other" and not note:
        raise Invalid("Describe what happened.", details={"field": "note"})
    return f"{reason}: {label}" + (f" — {note}" if note else "")


def driver_job_move(
    *,
    driver: Driver,
    shipment: Shipment,
    to: str,
    reason: str = "",
    note: str = "",
    lat: float | None = None,
    lng: float | None = None,
    expected_version: int | None = None,
    handover_pin: str = "",
    data: dict[str, Any] | None = None,
) -> Shipment:
    """One of the driver's status buttons (not decline, not delivered-with-POD: see below).
    The lifecycle decides whether the move is allowed now."""
    if shipment.driver_id != driver.pk:
        raise NotFound("No such shipment.")
    text = note.strip()
    if to == Status.FAILED_ATTEMPT:
        text = failed_attempt_reason(reason=reason, note=note)
    elif to == Status.ACCEPTED:
        return driver_job_decline(driver=driver, shipment=shipment, reason=reason, note=note)
    if to == Status.DELIVERED and shipment.handover_pin_hash:
        # Counted in its own transaction before the move: wrong tries are remembered.
        handover_pin_verify(shipment=shipment, pin=handover_pin)
    return shipment_transition(
        shipment=shipment,
        to=to,
        actor=driver.user,
        reason=text,
        lat=lat,
        lng=lng,
        expected_version=expected_version,
        handover_pin=handover_pin,
        data=data,
    )


def driver_job_deliver(
    *,
    driver: Driver,
    shipment: Shipment,
    photo=None,
    signature=None,
    recipient_name: str = "",
    handover_pin: str = "",
    lat: float | None = None,
    lng: float | None = None,
    captured_at: datetime | None = None,
    expected_version: int | None = None,
) -> Shipment:
    """Mark delivered with proof of delivery. The PIN is checked first (a wrong one stores
    nothing), then the files are stored, then the status moves; the lifecycle's delivery guard
    refuses the move if something required is still missing."""
    from shipments.pod import pod_save

    if shipment.driver_id != driver.pk:
        raise NotFound("No such shipment.")
    if shipment.status != Status.OUT_FOR_DELIVERY:
        raise InvalidTransition(
            f"A shipment that is {shipment.get_status_display().lower()} cannot be delivered.",
            details={"current_status": shipment.status, "current_version": shipment.version},
        )
    if shipment.handover_pin_hash:
        handover_pin_verify(shipment=shipment, pin=handover_pin)
    if photo is not None or signature is not None:
        pod_save(
            shipment=shipment,
            photo=photo,
            signature=signature,
            recipient_name=recipient_name,
            lat=lat,
            lng=lng,
            captured_at=captured_at,
        )
    elif recipient_name.strip():
        ProofOfDelivery.objects.update_or_create(
            shipment=shipment,
            defaults={
                "recipient_name": recipient_name.strip()[:100],
                "lat": lat,
                "lng": lng,
                "captured_at": captured_at or timezone.now(),
            },
        )
    return shipment_transition(
        shipment=shipment,
        to=Status.DELIVERED,
        actor=driver.user,
        reason=f"Received by {recipient_name.strip()}" if recipient_name.strip() else "",
        lat=lat,
        lng=lng,
        expected_version=expected_version,
        handover_pin=handover_pin,
    )


def driver_messages_mark_read(*, driver: Driver) -> int:
    """Mark the driver's messages from dispatch as read (they opened the list)."""
    return DriverMessage.objects.filter(driver=driver, read_at__isnull=True).update(
        read_at=timezone.now()
    )


# --- Offline replay: the window and the retention of its records -----------------------------


def replay_accept_window() -> tuple[timedelta, timedelta]:
    """(max age, max lead over the server clock) of a queued job update's device time for it
    to be applied (DRIVER_REPLAY_MAX_AGE_DAYS, DRIVER_REPLAY_MAX_FUTURE_HOURS)."""
    return (
        timedelta(days=settings.DRIVER_REPLAY_MAX_AGE_DAYS),
        timedelta(hours=settings.DRIVER_REPLAY_MAX_FUTURE_HOURS),
    )


def replay_retention_check(*, days: int) -> None:
    """Raise ImproperlyConfigured unless replay records kept `days` outlive the window.

    A record written at server time C is for an update whose device time D is at most
    C + max lead. Deleting it after `days` is safe only if every later copy is refused as too
    old: at T > C + days, T - D > days - max lead, which exceeds the max age when
    days > max age + max lead. (settings.py refuses such a configuration at startup too.)
    """
    max_age, max_lead = replay_accept_window()
    if timedelta(days=days) <= max_age + max_lead:
        raise ImproperlyConfigured(
            f"Replay records must be kept longer than DRIVER_REPLAY_MAX_AGE_DAYS plus "
            f"DRIVER_REPLAY_MAX_FUTURE_HOURS ({max_age + max_lead}); {days} days is not, and "
            f"an update replayed after its record is purged would be applied a second time."
        )


def replayed_updates_purge_old(
    *, now: datetime | None = None, days: int | None = None, batch_size: int | None = None
) -> int:
    """Delete replay records older than `days` (DRIVER_REPLAY_RETENTION_DAYS); returns how
    many were deleted. Refuses (ImproperlyConfigured) a retention that does not outlive the
    window in which the server still applies a queued update, see `replay_retention_check`."""
    days = settings.DRIVER_REPLAY_RETENTION_DAYS if days is None else days
    replay_retention_check(days=days)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return rows_delete_in_batches(
        queryset=ReplayedUpdate.objects.filter(created_at__lt=cutoff), batch_size=batch_size
    )
