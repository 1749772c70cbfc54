"""The shipment lifecycle: its states, and who may move a shipment from where to where.

This module only answers questions; `shipments.services.shipment_transition` is the one
function that moves a shipment, and it asks here first. Every caller (pages, API, admin,
driver replay, payment webhooks) goes through it.

    draft → awaiting_payment → pending_review → accepted | rejected
    accepted → assigned → picked_up → in_transit → out_for_delivery → delivered | failed_attempt
    failed_attempt → out_for_delivery (re-attempt) | returned
    failed_attempt → failed_attempt (the customer, or staff, choose a new delivery time)
    any state before pickup → cancelled
"""

from dataclasses import dataclass

from django.db import models

from dropmate.accounts.models import Role


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
    PENDING_REVIEW = "pending_review", "Pending review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    ASSIGNED = "assigned", "Assigned"
    PICKED_UP = "picked_up", "Picked up"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    FAILED_ATTEMPT = "failed_attempt", "Failed attempt"
    RETURNED = "returned", "Returned"
    CANCELLED = "cancelled", "Cancelled"


# The system actor: payment webhooks, reconciliation, planners. Never a logged-in person.
SYSTEM = "system"

CUSTOMER = Role.CUSTOMER.value
DRIVER = Role.DRIVER.value
DISPATCHER = Role.DISPATCHER.value
ADMIN = Role.ADMIN.value
STAFF = frozenset({DISPATCHER, ADMIN})

BEFORE_PICKUP = frozenset(
    {
        Status.DRAFT,
        Status.AWAITING_PAYMENT,
        Status.PENDING_REVIEW,
        Status.ACCEPTED,
        Status.ASSIGNED,
    }
)
TERMINAL = frozenset({Status.DELIVERED, Status.REJECTED, Status.RETURNED, Status.CANCELLED})
# With a driver on the road: what the driver portal lists and live tracking follows.
ON_THE_ROAD = frozenset(
    {Status.PICKED_UP, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.FAILED_ATTEMPT}
)


@dataclass(frozen=True)
class Move:
    source: str
    target: str
    roles: frozenset[str]
    label: str
    needs_reason: bool = False
    needs_driver: bool = False
    # Needs the new delivery window (start, end); see `services.shipment_redelivery_request`.
    needs_window: bool = False


def _move(source, target, roles, label, **kw) -> Move:
    return Move(str(source), str(target), frozenset(str(r) for r in roles), label, **kw)


MOVES: tuple[Move, ...] = (
    _move(Status.DRAFT, Status.AWAITING_PAYMENT, {CUSTOMER}, "Book"),
    # Payment outcomes are the system's: a verified webhook, or the pay-on-delivery choice.
    _move(Status.AWAITING_PAYMENT, Status.PENDING_REVIEW, {SYSTEM}, "Payment authorised"),
    _move(Status.AWAITING_PAYMENT, Status.DRAFT, {CUSTOMER, SYSTEM}, "Back to draft"),
    _move(Status.PENDING_REVIEW, Status.ACCEPTED, STAFF, "Accept"),
    _move(Status.PENDING_REVIEW, Status.REJECTED, STAFF, "Reject", needs_reason=True),
    _move(Status.ACCEPTED, Status.ASSIGNED, STAFF | {SYSTEM}, "Assign", needs_driver=True),
    # Reassignment keeps the status and changes the driver.
    _move(Status.ASSIGNED, Status.ASSIGNED, STAFF | {SYSTEM}, "Reassign", needs_driver=True),
    # A driver declines an offered job (with a reason) or staff take it back: to the queue.
    _move(Status.ASSIGNED, Status.ACCEPTED, STAFF | {DRIVER}, "Unassign", needs_reason=True),
    _move(Status.ASSIGNED, Status.PICKED_UP, {DRIVER}, "Picked up"),
    _move(Status.PICKED_UP, Status.IN_TRANSIT, {DRIVER}, "In transit"),
    _move(Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, {DRIVER}, "Out for delivery"),
    _move(Status.OUT_FOR_DELIVERY, Status.DELIVERED, {DRIVER}, "Delivered"),
    _move(
        Status.OUT_FOR_DELIVERY,
        Status.FAILED_ATTEMPT,
        {DRIVER},
        "Failed attempt",
        needs_reason=True,
    ),
    _move(Status.FAILED_ATTEMPT, Status.OUT_FOR_DELIVERY, {DRIVER}, "Try again"),
    # A new delivery time keeps the status and changes the window; the driver then tries again.
    _move(
        Status.FAILED_ATTEMPT,
        Status.FAILED_ATTEMPT,
        {CUSTOMER} | STAFF,
        "New delivery time",
        needs_window=True,
    ),
    _move(Status.FAILED_ATTEMPT, Status.RETURNED, {DRIVER} | STAFF, "Returned to sender"),
    *(
        _move(state, Status.CANCELLED, {CUSTOMER} | STAFF, "Cancel")
        for state in (
            Status.DRAFT,
            Status.AWAITING_PAYMENT,
            Status.PENDING_REVIEW,
            Status.ACCEPTED,
            Status.ASSIGNED,
        )
    ),
)
_BY_EDGE: dict[tuple[str, str], Move] = {(m.source, m.target): m for m in MOVES}

# Moves a driver makes only on shipments assigned to them; a customer only on their own.
DRIVER_OWNED_MOVES = frozenset(m for m in MOVES if DRIVER in m.roles)

FAILED_ATTEMPT_REASONS = (
    ("not_home", "Recipient not home"),
    ("wrong_address", "Wrong address"),
    ("refused", "Refused by recipient"),
    ("no_access", "No access to the building"),
    ("other", "Other"),
)
_REASON_LABELS = dict(FAILED_ATTEMPT_REASONS)


def note_for_people(note: str) -> str:
    """A timeline note as people read it. A failed attempt's note is stored as
    "<reason code>: <label> — <details>" (analytics count the code); people see it without
    the code."""
    code, sep, rest = (note or "").partition(":")
    if sep and code.strip() in _REASON_LABELS:
        return rest.strip() or _REASON_LABELS[code.strip()]
    return note


def find_move(source: str, target: str) -> Move | None:
    return _BY_EDGE.get((str(source), str(target)))


def moves_from(source: str, role: str) -> list[Move]:
    """The moves a role may make from `source` (what a page shows as buttons)."""
    return [m for m in MOVES if m.source == str(source) and str(role) in m.roles]


def is_before_pickup(status: str) -> bool:
    return status in BEFORE_PICKUP
