"""Writes to shipments. `shipment_transition` is the only code that changes `Shipment.status`."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from drivers.models import Driver
from dropmate.accounts.models import User
from dropmate.lib.exceptions import Invalid, InvalidTransition, NotAllowed, NotFound, StaleVersion
from dropmate.lib.retention import rows_delete_in_batches
from shipments import effects, lifecycle
from shipments.lifecycle import Status
from shipments.models import IdempotencyKey, Shipment, ShipmentEvent

# Fields a customer fills in while the shipment is a draft. Status, price, driver, payment and
# version are never among them.
# The parts of a pickup or drop-off: `pickup_<part>` and `dropoff_<part>` on Shipment.
ADDRESS_PARTS = (
    "address",
    "address2",
    "city",
    "postcode",
    "lat",
    "lng",
    "contact_name",
    "contact_phone",
    "instructions",
)
DRAFT_FIELDS = frozenset(
    {
        "reference",
        *(f"{side}_{part}" for side in ("pickup", "dropoff") for part in ADDRESS_PARTS),
        "size_class",
        "weight_kg",
        "length_cm",
        "width_cm",
        "height_cm",
        "declared_value",
        "description",
        "service_level",
        "pickup_window_start",
        "pickup_window_end",
        "delivery_window_start",
        "delivery_window_end",
    }
)


# `data["mark"]` of the timeline note that a new delivery time (failed_attempt → failed_attempt)
# writes: how the page, the limit and the double-submit check find those events.
REDELIVERY_MARK = "new_delivery_time"


def actor_role(actor: User | None) -> str:
    """The lifecycle role of whoever acts: `system` when no person does."""
    if actor is None:
        return lifecycle.SYSTEM
    if actor.is_superuser:
        return lifecycle.ADMIN
    return actor.role


def _may_see(shipment: Shipment, actor: User | None, role: str) -> bool:
    if role in lifecycle.STAFF or role == lifecycle.SYSTEM:
        return True
    if role == lifecycle.CUSTOMER:
        return shipment.customer_id == actor.pk
    if role == lifecycle.DRIVER:
        return shipment.driver is not None and shipment.driver.user_id == actor.pk
    return False


def _record_event(
    *,
    shipment: Shipment,
    kind: str,
    from_status: str,
    actor: User | None,
    note: str = "",
    data: dict[str, Any] | None = None,
    lat: float | None = None,
    lng: float | None = None,
) -> ShipmentEvent:
    """Append the next event to the timeline. Expects the shipment row locked (or new), so
    `seq` stays gapless. Saves `last_seq` on the shipment."""
    shipment.last_seq += 1
    Shipment.objects.filter(pk=shipment.pk).update(last_seq=shipment.last_seq)
    event = ShipmentEvent.objects.create(
        shipment=shipment,
        seq=shipment.last_seq,
        kind=kind,
        from_status=from_status,
        status=shipment.status,
        version=shipment.version,
        actor=actor,
        actor_role=actor_role(actor),
        note=note[:500],
        data=data or {},
        lat=lat,
        lng=lng,
    )
    effects.shipment_event_recorded(shipment=shipment, event=event)
    return event


@transaction.atomic
def shipment_create_draft(*, customer: User, **fields: Any) -> Shipment:
    if actor_role(customer) != lifecycle.CUSTOMER:
        raise NotAllowed("Only customers book shipments.")
    unknown = set(fields) - DRAFT_FIELDS
    if unknown:
        raise Invalid(f"Unknown fields: {', '.join(sorted(unknown))}.")
    shipment = Shipment.objects.create(
        customer=customer, currency=settings.DROPMATE_CURRENCY, **fields
    )
    _record_event(shipment=shipment, kind=ShipmentEvent.Kind.STATUS, from_status="", actor=customer)
    return shipment


@transaction.atomic
def shipment_update_draft(*, shipment: Shipment, actor: User, **fields: Any) -> Shipment:
    """Save wizard input on a draft. A draft's price is only ever set by the quote service."""
    locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
    if locked.customer_id != actor.pk:
        raise NotFound("No such shipment.")
    if locked.status != Status.DRAFT:
        raise InvalidTransition("Only a draft can be edited.", details=_state(locked))
    unknown = set(fields) - DRAFT_FIELDS
    if unknown:
        raise Invalid(f"Unknown fields: {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean(exclude=["customer"])
    locked.save(update_fields=[*fields, "updated_at"])
    return locked


@transaction.atomic
def shipment_delete_draft(*, shipment: Shipment, actor: User) -> None:
    locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
    if locked.customer_id != actor.pk:
        raise NotFound("No such shipment.")
    if locked.status != Status.DRAFT:
        raise InvalidTransition(
            "Only a draft can be deleted; cancel it instead.", details=_state(locked)
        )
    locked.delete()


def _state(shipment: Shipment) -> dict[str, Any]:
    return {"current_status": shipment.status, "current_version": shipment.version}


@transaction.atomic
def shipment_transition(
    *,
    shipment: Shipment,
    to: str,
    actor: User | None,
    expected_version: int | None = None,
    reason: str = "",
    driver: Driver | None = None,
    lat: float | None = None,
    lng: float | None = None,
    data: dict[str, Any] | None = None,
    handover_pin: str = "",
    delivery_window: tuple[datetime, datetime] | None = None,
) -> Shipment:
    """Move a shipment along its lifecycle. The one writer of `Shipment.status`.

    Locks the row, refuses a stale `expected_version` (StaleVersion), an illegal move
    (InvalidTransition), a role that may not make it (NotAllowed) and an actor who may not see
    the shipment at all (NotFound), and "delivered" without the proof of delivery or handover
    PIN the parcel needs (`shipments.handover.delivery_guard`; `handover_pin` is checked, never
    stored). Writes the next ShipmentEvent in the same transaction;
    pushes and notifications go out only after commit (see `shipments.effects`).
    A move that `needs_window` (a new delivery time) stores `delivery_window` as given: callers
    go through `shipment_redelivery_request`, which checks it.
    Returns the updated shipment.
    """
    role = actor_role(actor)
    try:
        locked = (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("driver")
            .get(pk=shipment.pk)
        )
    except Shipment.DoesNotExist:
        raise NotFound("No such shipment.") from None
    if not _may_see(locked, actor, role):
        raise NotFound("No such shipment.")
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersion(
            f"This shipment was changed meanwhile (now {locked.get_status_display().lower()}, "
            f"version {locked.version}). Reload and try again.",
            details=_state(locked),
        )
    move = lifecycle.find_move(locked.status, to)
    if move is None or role not in move.roles:
        target = Status(to).label.lower() if to in Status.values else repr(to)
        message = (
            f"A shipment that is {locked.get_status_display().lower()} cannot become {target}."
        )
        if move is not None:
            raise NotAllowed(f"{message[:-1]} by a {role}.", details=_state(locked))
        raise InvalidTransition(message, details=_state(locked))
    reason = (reason or "").strip()
    if move.needs_reason and not reason:
        raise Invalid("A reason is required for this change.", details={"field": "reason"})

    from_status = locked.status
    kind = ShipmentEvent.Kind.STATUS
    event_data = dict(data or {})
    if move.needs_driver:
        if driver is None:
            raise Invalid("Choose a driver.", details={"field": "driver"})
        if locked.driver_id == driver.pk:
            raise InvalidTransition(
                f"{locked} is already assigned to {driver}.", details=_state(locked)
            )
        if driver.vehicle_id is None:
            raise Invalid(f"{driver} has no vehicle.", details={"field": "driver"})
        event_data.update(driver_id=driver.pk, previous_driver_id=locked.driver_id)
        kind = ShipmentEvent.Kind.ASSIGNMENT
        locked.driver = driver
    elif to == Status.ACCEPTED and from_status == Status.ASSIGNED:
        event_data.update(previous_driver_id=locked.driver_id)
        kind = ShipmentEvent.Kind.ASSIGNMENT
        locked.driver = None
    elif move.needs_window:
        if delivery_window is None:
            raise Invalid(
                "Choose the new delivery time.", details={"field": "delivery_window_start"}
            )
        start, end = delivery_window
        previous = (locked.delivery_window_start, locked.delivery_window_end)
        event_data.update(
            mark=REDELIVERY_MARK,
            delivery_window_start=start.isoformat(),
            delivery_window_end=end.isoformat(),
            previous_window_start=previous[0].isoformat() if previous[0] else None,
            previous_window_end=previous[1].isoformat() if previous[1] else None,
        )
        # The status stays: a note on the timeline, so what counts status events (failed
        # attempts in analytics, the public timeline, notifications) does not count this one.
        kind = ShipmentEvent.Kind.NOTE
        locked.delivery_window_start, locked.delivery_window_end = start, end

    update_fields = ["status", "version", "driver", "status_changed_at", "updated_at"]
    if move.needs_window:
        # Not a status change: status_changed_at keeps the time of the failed attempt.
        update_fields = ["version", "delivery_window_start", "delivery_window_end", "updated_at"]
    if to == Status.DELIVERED:
        # Proof of delivery and the handover PIN, where the parcel needs them.
        from shipments.handover import delivery_guard

        delivery_guard(shipment=locked, handover_pin=handover_pin)
        locked.actual_arrival = timezone.now()
        update_fields.append("actual_arrival")

    locked.status = to
    locked.version += 1
    if "status_changed_at" in update_fields:
        locked.status_changed_at = timezone.now()
    locked.save(update_fields=update_fields)
    _record_event(
        shipment=locked,
        kind=kind,
        from_status=from_status,
        actor=actor,
        note=reason,
        data=event_data,
        lat=lat,
        lng=lng,
    )
    return locked


# --- Staff and customer actions that also move money -----------------------------------------
# Each runs the transition and the payment call in one transaction: if the processor refuses,
# the status change rolls back with it.


def _payment_state_set(shipment: Shipment, state: str) -> None:
    Shipment.objects.filter(pk=shipment.pk).update(payment_state=state)
    shipment.payment_state = state


@transaction.atomic
def shipment_accept(
    *, shipment: Shipment, actor: User, expected_version: int | None = None
) -> Shipment:
    """Staff accept a paid order; a card authorisation is captured."""
    from shipments.handover import handover_pin_issue
    from shipments.payments import gateway_for

    moved = shipment_transition(
        shipment=shipment, to=Status.ACCEPTED, actor=actor, expected_version=expected_version
    )
    _payment_state_set(moved, gateway_for(moved).capture(moved))
    handover_pin_issue(shipment=moved)
    return moved


@transaction.atomic
def shipment_reject(
    *, shipment: Shipment, actor: User, reason: str, expected_version: int | None = None
) -> Shipment:
    """Staff reject an order with a reason; a card authorisation is released."""
    from shipments.payments import gateway_for

    moved = shipment_transition(
        shipment=shipment,
        to=Status.REJECTED,
        actor=actor,
        reason=reason,
        expected_version=expected_version,
    )
    _payment_state_set(moved, gateway_for(moved).release(moved))
    return moved


@transaction.atomic
def shipment_cancel(
    *, shipment: Shipment, actor: User, reason: str = "", expected_version: int | None = None
) -> Shipment:
    """Cancel before pickup (customer or staff): release an authorisation, refund a capture."""
    from shipments.models import PaymentState
    from shipments.payments import gateway_for

    moved = shipment_transition(
        shipment=shipment,
        to=Status.CANCELLED,
        actor=actor,
        reason=reason,
        expected_version=expected_version,
    )
    if moved.payment_state == PaymentState.CAPTURED:
        _payment_state_set(moved, gateway_for(moved).refund(moved))
    elif moved.payment_state in (PaymentState.AUTHORIZED, PaymentState.PENDING):
        _payment_state_set(moved, gateway_for(moved).release(moved))
    return moved


def shipment_assign(
    *, shipment: Shipment, actor: User | None, driver: Driver, expected_version: int | None = None
) -> Shipment:
    """Assign or reassign a driver (staff, or the planner as system)."""
    return shipment_transition(
        shipment=shipment,
        to=Status.ASSIGNED,
        actor=actor,
        driver=driver,
        expected_version=expected_version,
    )


# --- After a failed attempt -------------------------------------------------------------------


@transaction.atomic
def shipment_redelivery_request(
    *,
    shipment: Shipment,
    actor: User,
    window_start: datetime,
    window_end: datetime,
    instructions: str | None = None,
    expected_version: int | None = None,
) -> Shipment:
    """Choose a new delivery time after a failed attempt (the failed_attempt → failed_attempt
    move): stores the window, and new drop-off instructions when given (None keeps them), and
    puts "New delivery time: Tue 24 Nov 14:00–16:00" on the timeline. The driver then tries
    again in that window. Pushes the event on commit, like every move.

    The shipment's own customer (at most DROPMATE_REDELIVERY_LIMIT times; then support
    arranges it) or staff; others get NotFound or NotAllowed, any status but failed_attempt
    InvalidTransition, a stale `expected_version` StaleVersion. The window follows the booking
    rules (starts in the future, within DROPMATE_BOOKING_HORIZON_DAYS, ends after it starts);
    a broken rule raises Invalid with `details` {field: [message]}.

    Idempotent: the same window and instructions sent again right after (a double submit, even
    with the version it had before) return the shipment unchanged and record nothing.
    """
    from shipments.booking import window_errors
    from shipments.selectors import delivery_window_label, shipment_redelivery_options

    role = actor_role(actor)
    try:
        locked = Shipment.objects.select_for_update(of=("self",)).get(pk=shipment.pk)
    except Shipment.DoesNotExist:
        raise NotFound("No such shipment.") from None
    if not _may_see(locked, actor, role):
        raise NotFound("No such shipment.")
    if role not in lifecycle.find_move(Status.FAILED_ATTEMPT, Status.FAILED_ATTEMPT).roles:
        raise NotAllowed(
            "Only the customer or dispatch can choose a new delivery time.", details=_state(locked)
        )
    if locked.status != Status.FAILED_ATTEMPT:
        raise InvalidTransition(
            "A new delivery time can be chosen only after a failed delivery attempt; this "
            f"shipment is {locked.get_status_display().lower()}.",
            details=_state(locked),
        )
    if timezone.is_naive(window_start) or timezone.is_naive(window_end):
        window_start, window_end = (
            timezone.make_aware(window_start),
            timezone.make_aware(window_end),
        )
    if instructions is not None:
        instructions = instructions.strip()

    # A repeat of the newest request since the failed attempt changes nothing.
    newest = (
        locked.events.filter(
            Q(kind=ShipmentEvent.Kind.STATUS, status=Status.FAILED_ATTEMPT)
            | Q(data__mark=REDELIVERY_MARK)
        )
        .order_by("-seq")
        .first()
    )
    if (
        newest is not None
        and newest.data.get("mark") == REDELIVERY_MARK
        and (locked.delivery_window_start, locked.delivery_window_end) == (window_start, window_end)
        and instructions in (None, locked.dropoff_instructions)
    ):
        return locked

    options = shipment_redelivery_options(shipment=locked, user=actor)
    if role == lifecycle.CUSTOMER and options.limit_reached:
        raise InvalidTransition(
            f"You have already chosen a new delivery time {options.used} times, the most we "
            "can arrange online. Please contact our support team to arrange the delivery.",
            details={**_state(locked), "redelivery_limit": options.limit},
        )

    rules = window_errors(
        window_start,
        window_end,
        now=timezone.now(),
        field="delivery_window",
        not_future="The new delivery time must start in the future.",
        not_after="The delivery window must end after it starts.",
    )
    errors: dict[str, list[str]] = {name: [message] for name, message in rules.items()}
    max_length = Shipment._meta.get_field("dropoff_instructions").max_length
    if instructions is not None and len(instructions) > max_length:
        errors["dropoff_instructions"] = [f"Keep the instructions to {max_length} characters."]
    if errors:
        raise Invalid(next(iter(errors.values()))[0], details=errors)

    new_instructions = instructions is not None and instructions != locked.dropoff_instructions
    note = f"New delivery time: {delivery_window_label(start=window_start, end=window_end)}"
    moved = shipment_transition(
        shipment=locked,
        to=Status.FAILED_ATTEMPT,
        actor=actor,
        expected_version=expected_version,
        reason=note + (" · new instructions for the driver" if new_instructions else ""),
        delivery_window=(window_start, window_end),
        data={"instructions_changed": new_instructions},
    )
    if new_instructions:
        Shipment.objects.filter(pk=moved.pk).update(dropoff_instructions=instructions)
        moved.dropoff_instructions = instructions
    return moved


# --- Retention ---------------------------------------------------------------------------------


def idempotency_keys_purge_old(
    *, now: datetime | None = None, days: int | None = None, batch_size: int | None = None
) -> int:
    """Forget Idempotency-Keys sent more than `days` (IDEMPOTENCY_KEY_RETENTION_DAYS) ago;
    returns how many were deleted.

    Intended: a key makes a client's retries safe, it does not reserve the key forever. Once
    forgotten, a booking sent again under the same key books a new shipment, as with Stripe
    (which keeps keys 24 hours). The shipments themselves are kept.
    """
    days = settings.IDEMPOTENCY_KEY_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return rows_delete_in_batches(
        queryset=IdempotencyKey.objects.filter(created_at__lt=cutoff), batch_size=batch_size
    )
