"""Writes that integrations ask for in one call: book a shipment (optionally under an
idempotency key) and request a status change, routed to the wrapper that also moves money.

API bookings start unpaid: the shipment is priced by the server and left `awaiting_payment`;
payment (card or pay on delivery) is the customer portal's step.
"""

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction

from drivers.models import Driver
from dropmate.accounts.models import User
from dropmate.lib.exceptions import DomainError, Invalid
from shipments import services
from shipments.lifecycle import Status
from shipments.models import IdempotencyKey, Shipment
from shipments.pricing import shipment_quote


class IdempotencyMismatch(DomainError):
    """The key was already used for a request with another body."""

    code = "idempotency_mismatch"
    http_status = 422


def request_fingerprint(data: Any) -> str:
    """A digest of a JSON body that ignores key order and whitespace."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@transaction.atomic
def shipment_book(*, customer: User, **fields: Any) -> Shipment:
    """Create a draft, price it with the active rule and submit it (`awaiting_payment`)."""
    shipment = services.shipment_create_draft(customer=customer, **fields)
    shipment_quote(shipment=shipment, actor=customer)
    return services.shipment_transition(
        shipment=shipment, to=Status.AWAITING_PAYMENT, actor=customer
    )


def shipment_book_idempotent(
    *, customer: User, key: str, fingerprint: str, **fields: Any
) -> tuple[Shipment, bool]:
    """Book once per (customer, key). Returns (shipment, created).

    The same key with the same fingerprint returns the first shipment; with another fingerprint
    it raises IdempotencyMismatch. Concurrency: the key row is inserted first, inside the
    booking's transaction, so a second request with the same key waits on the unique index
    until the first commits (or rolls back), then replays its result. A booking that fails
    rolls its key back, so the client may retry with the same key.
    """
    existing = _replay(customer=customer, key=key, fingerprint=fingerprint)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            claim = IdempotencyKey.objects.create(user=customer, key=key, request_hash=fingerprint)
            shipment = shipment_book(customer=customer, **fields)
            claim.shipment = shipment
            claim.save(update_fields=["shipment"])
            return shipment, True
    except IntegrityError:
        existing = _replay(customer=customer, key=key, fingerprint=fingerprint)
        if existing is None:
            raise
        return existing, False


def _replay(*, customer: User, key: str, fingerprint: str) -> Shipment | None:
    row = (
        IdempotencyKey.objects.select_related("shipment")
        .filter(user=customer, key=key, shipment__isnull=False)
        .first()
    )
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used with a different request body.",
            details={"tracking_number": row.shipment.tracking_number},
        )
    return row.shipment


def shipment_request_transition(
    *,
    shipment: Shipment,
    to: str,
    actor: User,
    expected_version: int,
    reason: str = "",
    driver_id: int | None = None,
    lat: float | None = None,
    lng: float | None = None,
) -> Shipment:
    """Apply a requested move through the wrapper that owns its side effects: accepting a paid
    order captures, rejecting and cancelling release or refund, assigning needs a driver.
    `expected_version` is checked under the row lock, so choosing the wrapper from the status
    read here cannot race: a shipment changed meanwhile is refused as stale."""
    common = {"shipment": shipment, "actor": actor, "expected_version": expected_version}
    if to == Status.ACCEPTED and shipment.status == Status.PENDING_REVIEW:
        return services.shipment_accept(**common)
    if to == Status.REJECTED:
        return services.shipment_reject(**common, reason=reason)
    if to == Status.CANCELLED:
        return services.shipment_cancel(**common, reason=reason)
    if to == Status.ASSIGNED:
        driver = Driver.objects.filter(pk=driver_id).first() if driver_id else None
        if driver is None:
            raise Invalid("Choose an existing driver.", details={"field": "driver"})
        return services.shipment_assign(**common, driver=driver)
    return services.shipment_transition(**common, to=to, reason=reason, lat=lat, lng=lng)
