"""Handing a parcel over: the handover PIN and what "delivered" requires.

The PIN is made when staff accept the shipment (`shipment_accept` calls `handover_pin_issue`),
told to the customer through the notification outbox and stored here only as a keyed hash.
`handover_pin_verify` counts wrong attempts in its own transaction, so a refused PIN is
remembered even though the delivery it guarded did not happen; too many lock the job and
alert staff. `delivery_guard` is what `shipment_transition` asks before "delivered".
"""

import hmac
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils.crypto import salted_hmac

from dropmate.lib.exceptions import Invalid, NotAllowed, NotFound
from shipments.lifecycle import Status
from shipments.models import ProofOfDelivery, Shipment

PIN_LENGTH = 6
_SALT = "dropmate.shipments.handover_pin"


def handover_pin_required(*, shipment: Shipment) -> bool:
    return shipment.service_level in settings.HANDOVER_PIN_SERVICE_LEVELS or (
        shipment.declared_value or Decimal(0)
    ) >= Decimal(settings.HANDOVER_PIN_MIN_DECLARED_VALUE)


def pod_required(*, shipment: Shipment) -> bool:
    return (
        shipment.requires_pod
        or shipment.service_level in settings.POD_REQUIRED_SERVICE_LEVELS
        or (shipment.declared_value or Decimal(0))
        >= Decimal(settings.POD_REQUIRED_MIN_DECLARED_VALUE)
    )


def _pin_hash(pin: str, *, salt: str) -> str:
    # A keyed HMAC, not a password hasher: a six-digit space cannot be protected by slowness,
    # so the protection is the server secret plus the lockout after a few wrong tries.
    digest = salted_hmac(_SALT, f"{salt}:{pin}", algorithm="sha256").hexdigest()
    return f"hmac_sha256${salt}${digest}"


def _pin_matches(pin: str, stored: str) -> bool:
    try:
        _algo, salt, _digest = stored.split("$", 2)
    except ValueError:
        return False
    return hmac.compare_digest(_pin_hash(pin, salt=salt), stored)


def handover_pin_issue(*, shipment: Shipment, required: bool = False) -> str | None:
    """Give the shipment a fresh PIN when its parcel needs one (or `required`); returns the
    PIN (or None).

    Call inside the transaction that accepted the shipment: the customer's notification row
    is written in it and leaves only after commit.
    """
    from notifications.services import notify_shipment

    if not required and not handover_pin_required(shipment=shipment):
        return None
    pin = "".join(secrets.choice("0123456789") for _ in range(PIN_LENGTH))
    salt = secrets.token_hex(8)
    pin_hash = _pin_hash(pin, salt=salt)
    Shipment.objects.filter(pk=shipment.pk).update(
        handover_pin_hash=pin_hash, pin_failures=0, pin_locked=False
    )
    shipment.handover_pin_hash, shipment.pin_failures, shipment.pin_locked = pin_hash, 0, False
    # Once per PIN issued (a new PIN at the same point of the timeline is a new message).
    notify_shipment(
        event_key="handover_pin",
        shipment=shipment,
        extra={"pin": pin, "dedupe": f"pin.{shipment.pk}.{salt}"},
    )
    return pin


# A new PIN only helps while the parcel is still to be handed over.
REISSUABLE = frozenset(
    {
        Status.ACCEPTED,
        Status.ASSIGNED,
        Status.PICKED_UP,
        Status.IN_TRANSIT,
        Status.OUT_FOR_DELIVERY,
        Status.FAILED_ATTEMPT,
    }
)


def handover_pin_reissue(*, shipment: Shipment) -> str:
    """Staff give the shipment a new PIN: the customer lost theirs, or the job is locked
    after too many wrong tries. The old PIN stops working, the wrong-try count and the lock
    are cleared, and the customer is sent the new one. Returns the PIN (shown to no one else:
    callers must not display or log it).

    Call inside a transaction (the notification leaves after commit). Raises NotFound for a
    shipment that is gone, Invalid when the parcel is past handing over or needs no PIN.
    """
    locked = Shipment.objects.select_for_update().filter(pk=shipment.pk).first()
    if locked is None:
        raise NotFound("No such shipment.")
    if locked.status not in REISSUABLE:
        raise Invalid(
            f"A {locked.get_status_display().lower()} shipment is not waiting to be handed "
            "over, so it gets no new PIN."
        )
    if not locked.handover_pin_hash and not handover_pin_required(shipment=locked):
        raise Invalid("This parcel is handed over without a PIN.")
    pin = handover_pin_issue(shipment=locked, required=True)
    shipment.handover_pin_hash = locked.handover_pin_hash
    shipment.pin_failures, shipment.pin_locked = 0, False
    return pin


def handover_pin_verify(*, shipment: Shipment, pin: str) -> None:
    """Check the PIN the recipient gave. Raises Invalid when it is wrong (the failure is
    committed), NotAllowed when the job is locked. Locking alerts staff (`pin_locked`).

    Runs its own transaction: call it outside any atomic block that could roll back, or the
    count of wrong tries is lost with it.
    """
    from notifications.services import notify_staff

    pin = (pin or "").strip()
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().filter(pk=shipment.pk).first()
        if locked is None:
            raise NotFound("No such shipment.")
        if not locked.handover_pin_hash:
            return
        if locked.pin_locked:
            raise NotAllowed(
                "This job is locked after too many wrong PINs. Call dispatch.",
                details={"field": "pin"},
            )
        if pin and _pin_matches(pin, locked.handover_pin_hash):
            if locked.pin_failures:
                Shipment.objects.filter(pk=locked.pk).update(pin_failures=0)
            return
        failures = locked.pin_failures + 1
        now_locked = failures >= settings.HANDOVER_PIN_MAX_FAILURES
        Shipment.objects.filter(pk=locked.pk).update(pin_failures=failures, pin_locked=now_locked)
        if now_locked:
            notify_staff(event_key="pin_locked", shipment=locked, extra={"failures": failures})
    shipment.pin_failures, shipment.pin_locked = failures, now_locked
    if now_locked:
        raise NotAllowed(
            "Wrong PIN. The job is now locked after too many wrong PINs; dispatch was alerted.",
            details={"field": "pin"},
        )
    left = settings.HANDOVER_PIN_MAX_FAILURES - failures
    raise Invalid(
        f"Wrong PIN. {left} {'try' if left == 1 else 'tries'} left before the job is locked.",
        details={"field": "pin", "tries_left": left},
    )


def delivery_guard(*, shipment: Shipment, handover_pin: str) -> None:
    """Refuse "delivered" without what it needs. Expects `shipment` locked by the caller
    (`shipment_transition`). Does not count wrong PINs: `handover_pin_verify` does that."""
    if shipment.pin_locked:
        raise NotAllowed(
            "This job is locked after too many wrong PINs. Call dispatch.",
            details={"field": "pin"},
        )
    if shipment.handover_pin_hash and not _pin_matches(
        (handover_pin or "").strip(), shipment.handover_pin_hash
    ):
        raise Invalid("Enter the handover PIN the recipient was given.", details={"field": "pin"})
    if pod_required(shipment=shipment) and not (
        ProofOfDelivery.objects.filter(shipment=shipment).exclude(photo="", signature="").exists()
    ):
        raise Invalid(
            "This delivery needs a proof of delivery: a photo or the recipient's signature.",
            details={"field": "pod"},
        )
