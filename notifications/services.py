"""Writes to the notification outbox.

Every notification is a `Notification` row written in the caller's transaction (a rollback
leaves no row and sends nothing), rendered there, with a unique idempotency key
`<scope>:<event>:u<recipient>:<channel>`. After commit a Celery task sends it by id (see
`notifications.delivery`). A recipient gets one row per event, on the first channel they allow
in the event's order (`notifications.events`); the other channel they allow is the fallback.

The four hooks are what the rest of the project calls:
- `notifications_for_shipment_event(shipment=, event=)` — the lifecycle (via shipments.effects);
- `notify_shipment(event_key=, shipment=, extra=)` — the customer, outside status changes;
- `notify_staff(event_key=, shipment=, extra=)` — every active dispatcher and admin;
- `notify_driver(event_key=, driver_user=, shipment=, extra=)` — one driver.
`extra` becomes template context; `extra["dedupe"]` (a string) replaces the default scope of
the idempotency key, so a caller can say "at most once per <thing>". Context keys an event
declares secret (`EventSpec.secret_keys`, e.g. the handover PIN) stay in the row only until it
is done (see `notifications.redaction`).
"""

import json
import logging
import re
import uuid
import zoneinfo
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dropmate.accounts.models import STAFF_ROLES, User
from dropmate.lib.exceptions import NotAllowed
from notifications import events, redaction
from notifications.events import EMAIL, SMS, EventSpec
from notifications.models import Notification
from notifications.rendering import reason_label, render_message, shipment_context, site_url
from shipments.lifecycle import Status
from shipments.models import PaymentState, Shipment, ShipmentEvent

log = logging.getLogger(__name__)

ACTIVE = (Notification.Status.QUEUED, Notification.Status.HELD, Notification.Status.SENDING)


# --- Preferences, quiet hours -----------------------------------------------------------------


def channel_allowed(*, user: User, channel: str) -> bool:
    """The user opted in to `channel` and we have an address for it."""
    if not user.is_active:
        return False
    if channel == EMAIL:
        return bool(user.notify_email and user.email)
    if channel == SMS:
        return bool(user.notify_sms and user.phone)
    return False


def channel_keeps_failing(*, user: User, channel: str) -> bool:
    """The last NOTIFY_FALLBACK_AFTER_FAILURES finished messages to `user` on `channel` all
    failed for good."""
    needed = settings.NOTIFY_FALLBACK_AFTER_FAILURES
    if needed <= 0:
        return False
    recent = list(
        Notification.objects.filter(recipient=user, channel=channel)
        .exclude(status__in=[*ACTIVE, Notification.Status.SKIPPED])
        .order_by("-created_at", "-pk")
        .values_list("status", flat=True)[:needed]
    )
    return len(recent) == needed and all(s == Notification.Status.FAILED for s in recent)


def channels_for(*, user: User, spec: EventSpec) -> list[str]:
    """The channels `user` allows for this event, best first. A channel that keeps failing
    for them goes behind the other one."""
    allowed = [c for c in spec.channels if channel_allowed(user=user, channel=c)]
    if len(allowed) > 1:
        healthy = [c for c in allowed if not channel_keeps_failing(user=user, channel=c)]
        allowed = healthy + [c for c in allowed if c not in healthy]
    return allowed


def quiet_hours_end(*, now: datetime) -> datetime | None:
    """When the quiet hours that `now` falls in end, or None outside quiet hours."""
    spec = settings.NOTIFY_QUIET_HOURS
    if not spec:
        return None
    start_text, end_text = spec.split("-")
    start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    tz = zoneinfo.ZoneInfo(settings.NOTIFY_QUIET_HOURS_TIME_ZONE)
    local = now.astimezone(tz)
    moment = local.time()
    inside = start <= moment < end if start <= end else (moment >= start or moment < end)
    if not inside:
        return None
    ends = datetime.combine(local.date(), end, tzinfo=tz)
    if ends <= local:
        ends += timedelta(days=1)
    return ends


# --- The one writer of outbox rows ------------------------------------------------------------


def _address(user: User, channel: str) -> str:
    return user.email if channel == EMAIL else user.phone


def _default_link(audience: str, context: dict[str, Any]) -> str:
    if audience == events.CUSTOMER:
        return context.get("tracking_url", "") or site_url("home")
    if audience == events.DRIVER:
        return site_url("driver-home")
    return context.get("admin_url", "") or site_url("admin:notifications_notification_changelist")


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# How DjangoJSONEncoder writes a datetime; a stored context gets them back as datetimes.
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")


def _context_of(notification: Notification) -> dict[str, Any]:
    """The template context a row was written with, from its payload: datetimes parsed back
    (templates format them) and its secrets, while it still holds them."""
    context = {}
    for key, value in notification.payload.get("context", {}).items():
        if isinstance(value, str) and _ISO_DATETIME.fullmatch(value):
            value = parse_datetime(value) or value
        context[key] = value
    context.update(notification.payload.get("secrets", {}))
    return context


def _enqueue_on_commit(notification: Notification) -> None:
    from notifications.delivery import enqueue

    if notification.status == Notification.Status.QUEUED:
        transaction.on_commit(partial(enqueue, notification_id=notification.pk))


def _create(
    *,
    key: str,
    event_key: str,
    recipient: User,
    channel: str,
    spec: EventSpec,
    context: dict[str, Any],
    shipment: Shipment | None,
    now: datetime,
    **fields: Any,
) -> Notification:
    """Render and insert one row; the existing row when `key` was written meanwhile."""
    language = recipient.language or ""
    rendered = render_message(
        event_key=event_key, channel=channel, context=context, language=language
    )
    stored_context, secrets = redaction.split(spec=spec, context=context)
    payload = {"context": stored_context, "audience": spec.audience}
    if secrets:
        masked = render_message(
            event_key=event_key, channel=channel, context=stored_context, language=language
        )
        payload.update(redaction.secret_payload(secrets=secrets, masked=masked))
    status, send_after = Notification.Status.QUEUED, None
    if spec.audience == events.CUSTOMER and not spec.urgent:
        held_until = quiet_hours_end(now=now)
        if held_until is not None:
            status, send_after = Notification.Status.HELD, held_until
    row = Notification(
        recipient=recipient,
        shipment=shipment,
        channel=channel,
        event_key=event_key,
        payload=_jsonable(payload),
        status=status,
        send_after=send_after,
        idempotency_key=key[:200],
        to_address=_address(recipient, channel),
        subject=rendered.subject,
        body=rendered.body,
        body_html=rendered.html,
        language=language,
        urgent=spec.urgent,
        **fields,
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        # The same key written by a concurrent transaction: that row is the one.
        return Notification.objects.get(idempotency_key=key[:200])
    _enqueue_on_commit(row)
    return row


def notification_write(
    *,
    event_key: str,
    recipient: User,
    audience: str,
    scope: str,
    shipment: Shipment | None = None,
    extra: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Notification | None:
    """Write the outbox row for one recipient and one event, in the caller's transaction.

    Returns the row (the existing one when this event already notified this recipient), or
    None when the recipient allows no channel for it. Enqueues the send after commit; a
    non-urgent customer message written in quiet hours is held until they end.
    """
    now = now or timezone.now()
    spec = events.spec_for(event_key, audience=audience)
    channels = channels_for(user=recipient, spec=spec)
    if not channels:
        return None
    base = f"{scope}:{event_key}:u{recipient.pk}"
    existing = (
        Notification.objects.filter(idempotency_key__in=[f"{base}:{c}" for c in (EMAIL, SMS)])
        .order_by("pk")
        .first()
    )
    if existing is not None:
        return existing
    context: dict[str, Any] = {"name": recipient.first_name or "there"}
    if shipment is not None:
        context.update(shipment_context(shipment))
    context.update(extra or {})
    context.setdefault("link", _default_link(spec.audience, context))
    return _create(
        key=f"{base}:{channels[0]}",
        event_key=event_key,
        recipient=recipient,
        channel=channels[0],
        spec=spec,
        context=context,
        shipment=shipment,
        now=now,
    )


def notification_fallback(*, notification: Notification) -> Notification | None:
    """After `notification` failed for good: the same message on the recipient's other allowed
    channel (key: same event and recipient, other channel). None when there is none.

    Expects `notification` as loaded before it was scrubbed: the fallback carries its secrets.
    """
    spec = events.spec_for(notification.event_key, audience=_audience_of(notification))
    recipient = notification.recipient
    others = [c for c in channels_for(user=recipient, spec=spec) if c != notification.channel]
    if not others or notification.fallback_of_id is not None:
        return None
    base = notification.idempotency_key.rsplit(":", 1)[0]
    key = f"{base}:{others[0]}"
    existing = Notification.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    if redaction.secrets_gone(notification):
        # Never send a masked secret as if it were the real one.
        log.warning(
            "No fallback for notification %s: the %s it carried is no longer stored",
            notification.pk,
            ", ".join(notification.payload["secret_keys"]),
        )
        return None
    context = _context_of(notification)
    return _create(
        key=key,
        event_key=notification.event_key,
        recipient=recipient,
        channel=others[0],
        spec=spec,
        context=context,
        shipment=notification.shipment,
        now=timezone.now(),
        fallback_of=notification,
    )


def _audience_of(notification: Notification) -> str:
    spec = events.EVENTS.get(notification.event_key)
    if spec is not None:
        return spec.audience
    return notification.payload.get("audience", events.CUSTOMER)


# --- Lifecycle events -------------------------------------------------------------------------


def _payment_outcome(shipment: Shipment, target: str) -> str:
    """What the money-moving service does in the same transaction right after the transition
    (shipments.services.shipment_reject / shipment_cancel); if it fails, this rolls back too."""
    if shipment.payment_state == PaymentState.CAPTURED and target == Status.CANCELLED:
        return "refunded"
    if shipment.payment_state in (PaymentState.AUTHORIZED, PaymentState.PENDING):
        return "released"
    return ""


def _driver_user(driver_id: int | None) -> User | None:
    from drivers.models import Driver

    if driver_id is None:
        return None
    driver = Driver.objects.select_related("user").filter(pk=driver_id).first()
    return driver.user if driver is not None else None


def staff_recipients() -> list[User]:
    return list(User.objects.filter(is_active=True, role__in=list(STAFF_ROLES)).order_by("pk"))


def _intents(shipment: Shipment, event: ShipmentEvent) -> list[tuple[str, User, str, dict]]:
    """(event_key, recipient, audience, extra) for each message a lifecycle event causes."""
    to, source = event.status, event.from_status
    if event.kind not in (ShipmentEvent.Kind.STATUS, ShipmentEvent.Kind.ASSIGNMENT):
        return []  # notes and payment records: whoever writes them notifies if needed
    if to == source and event.kind != ShipmentEvent.Kind.ASSIGNMENT:
        return []
    customer = shipment.customer
    reason = event.note
    out: list[tuple[str, User, str, dict]] = []

    def customer_says(key: str, **extra: Any) -> None:
        out.append((key, customer, events.CUSTOMER, extra))

    def driver_says(key: str, user: User | None) -> None:
        # Nobody is told about what they did themselves (a driver declining a job).
        if user is not None and user.pk != event.actor_id:
            out.append((key, user, events.DRIVER, {}))

    current_driver = shipment.driver.user if shipment.driver_id else None
    previous_driver = _driver_user(event.data.get("previous_driver_id"))
    if to == Status.PENDING_REVIEW and source == Status.AWAITING_PAYMENT:
        customer_says("booking_received")
        out.extend(("order_needs_review", u, events.STAFF, {}) for u in staff_recipients())
    elif to == Status.ACCEPTED and source == Status.PENDING_REVIEW:
        customer_says("accepted")
    elif to == Status.ACCEPTED and source == Status.ASSIGNED:
        driver_says("job_removed", previous_driver)
    elif to == Status.REJECTED:
        customer_says("rejected", reason=reason, payment_outcome=_payment_outcome(shipment, to))
    elif to == Status.ASSIGNED:
        driver_says("job_assigned", current_driver)
        if source == Status.ASSIGNED:
            driver_says("job_removed", previous_driver)
        customer_says("driver_assigned")
    elif to == Status.PICKED_UP:
        customer_says("picked_up")
    elif to == Status.OUT_FOR_DELIVERY:
        customer_says("out_for_delivery")
    elif to == Status.DELIVERED:
        customer_says("delivered", link=shipment_context(shipment)["pod_url"])
    elif to == Status.FAILED_ATTEMPT:
        customer_says("failed_attempt", reason=reason_label(reason))
    elif to == Status.RETURNED:
        customer_says("returned")
    elif to == Status.CANCELLED:
        customer_says("cancelled", reason=reason, payment_outcome=_payment_outcome(shipment, to))
        if source == Status.ASSIGNED:
            driver_says("job_cancelled", current_driver)
    return out


def notifications_for_shipment_event(
    *, shipment: Shipment, event: ShipmentEvent
) -> list[Notification]:
    """Write the outbox rows a shipment event causes, in the caller's transaction.

    Expects to run inside the transaction that wrote `event` (called by shipments.effects).
    Calling it twice for the same event writes nothing new (one row per event, recipient and
    channel) and returns the same rows.
    """
    rows = []
    for event_key, recipient, audience, extra in _intents(shipment, event):
        row = notification_write(
            event_key=event_key,
            recipient=recipient,
            audience=audience,
            scope=f"ev{event.pk}",
            shipment=shipment,
            extra=extra,
        )
        if row is not None:
            rows.append(row)
    return rows


def _scope(shipment: Shipment | None, extra: dict[str, Any]) -> str:
    dedupe = extra.pop("dedupe", None)
    if dedupe:
        return f"d.{dedupe}"
    if shipment is not None:
        return f"s{shipment.pk}.{shipment.last_seq}"
    return f"x.{uuid.uuid4().hex}"


def notify_shipment(
    *, event_key: str, shipment: Shipment, extra: dict[str, Any] | None = None
) -> list[Notification]:
    """Tell a shipment's customer about something that is not a status change
    (e.g. `driver_nearby`, `eta_updated`, `handover_pin` with extra={"pin": ...}). Call inside
    the transaction that caused it. Once per event key and timeline position unless
    extra["dedupe"] says otherwise."""
    extra = dict(extra or {})
    row = notification_write(
        event_key=event_key,
        recipient=shipment.customer,
        audience=events.CUSTOMER,
        scope=_scope(shipment, extra),
        shipment=shipment,
        extra=extra,
    )
    return [row] if row is not None else []


def notify_staff(
    *, event_key: str, shipment: Shipment | None = None, extra: dict[str, Any] | None = None
) -> list[Notification]:
    """Alert dispatchers (e.g. `pin_locked`, `driver_silent`, `shipment_late`)."""
    extra = dict(extra or {})
    scope = _scope(shipment, extra)
    rows = []
    for user in staff_recipients():
        row = notification_write(
            event_key=event_key,
            recipient=user,
            audience=events.STAFF,
            scope=scope,
            shipment=shipment,
            extra=extra,
        )
        if row is not None:
            rows.append(row)
    return rows


def notify_driver(
    *,
    event_key: str,
    driver_user: User,
    shipment: Shipment | None = None,
    extra: dict | None = None,
) -> list[Notification]:
    """Tell a driver about a job offered, reassigned or cancelled, or a dispatch message
    (`dispatch_message` with extra={"message": ...})."""
    extra = dict(extra or {})
    row = notification_write(
        event_key=event_key,
        recipient=driver_user,
        audience=events.DRIVER,
        scope=_scope(shipment, extra),
        shipment=shipment,
        extra=extra,
    )
    return [row] if row is not None else []


# --- Staff actions (admin) --------------------------------------------------------------------


def secret_gone_message(notification: Notification) -> str:
    """What staff are told when a message whose secret was scrubbed cannot be sent again."""
    keys = ", ".join(notification.payload.get("secret_keys", []))
    where = f" for shipment {notification.shipment}" if notification.shipment_id else ""
    return (
        f"Notification {notification.pk} ({notification.event_key}) was not sent again: the "
        f"secret it carried ({keys}) is deleted once a message is done, and a copy would only "
        f"show {events.REDACTED}. Issue a new one{where} instead (shipments admin: 'Send the "
        "customer a new handover PIN'); it replaces the old one, which nobody can recover."
    )


@transaction.atomic
def notification_resend(*, notification: Notification, actor: User) -> Notification:
    """Send the same message again, as a new row with a new key that records who asked.

    Raises NotAllowed for a row whose secret (e.g. a handover PIN) was scrubbed when it was
    done: the message cannot be rebuilt, and the right remedy is a new secret, not a copy
    with "••••" in it. A row still holding its secret is copied with it (the copy is scrubbed
    in turn when it is done)."""
    if redaction.secrets_gone(notification):
        raise NotAllowed(secret_gone_message(notification))
    copy = Notification.objects.create(
        recipient=notification.recipient,
        shipment=notification.shipment,
        channel=notification.channel,
        event_key=notification.event_key,
        payload=notification.payload,
        idempotency_key=f"resend.{uuid.uuid4().hex}:{notification.idempotency_key}"[:200],
        to_address=_address(notification.recipient, notification.channel)
        or notification.to_address,
        subject=notification.subject,
        body=notification.body,
        body_html=notification.body_html,
        language=notification.language,
        urgent=notification.urgent,
        resent_from=notification,
        requested_by=actor,
    )
    _enqueue_on_commit(copy)
    return copy


def notification_can_retry(*, notification: Notification) -> bool:
    """A failed row can be queued again unless the secret it carried was scrubbed."""
    return notification.status == Notification.Status.FAILED and not redaction.secrets_gone(
        notification
    )


@transaction.atomic
def notifications_retry_failed(*, ids: Iterable[int]) -> int:
    """Queue failed rows again with a fresh set of attempts. Returns how many. Rows whose
    secret was scrubbed (see `notification_can_retry`) are left alone."""
    from notifications.delivery import enqueue

    failed = [
        row.pk
        for row in Notification.objects.select_for_update().filter(
            pk__in=list(ids), status=Notification.Status.FAILED
        )
        if notification_can_retry(notification=row)
    ]
    Notification.objects.filter(pk__in=failed).update(
        status=Notification.Status.QUEUED,
        attempts=0,
        send_after=None,
        claimed_at=None,
        updated_at=timezone.now(),
    )
    for pk in failed:
        transaction.on_commit(partial(enqueue, notification_id=pk))
    return len(failed)
