"""Payments behind one adapter. `gateway_for(shipment)` picks the processor by the shipment's
payment method: pay on delivery (the embedded default, no processor) or card (Stripe, when
STRIPE_SECRET_KEY is set). Only the gateway talks to a processor; only the services here (the
gateway's own answers, the verified webhook and reconciliation) write `payment_state`.

Card payments: at booking a PaymentIntent with `capture_method=manual` authorises the quoted
amount; staff acceptance captures it, rejection cancels it, a cancellation before pickup
cancels or refunds it. Webhook events are recorded once (`PaymentEvent`), and an event older
than the newest one applied (`Shipment.payment_updated_at`) changes nothing; payment states
also only move forward (`ALLOWED_NEXT`), so a late event can never undo a capture.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from dropmate.lib.exceptions import DomainError
from shipments.lifecycle import Status
from shipments.models import PaymentEvent, PaymentMethod, PaymentState, Shipment

log = logging.getLogger(__name__)

P = PaymentState
# Where a payment may go from each state. Anything else is a late or replayed event.
ALLOWED_NEXT: dict[str, frozenset[str]] = {
    P.NONE: frozenset({P.PENDING, P.AUTHORIZED, P.FAILED, P.CANCELED, P.CAPTURED}),
    P.PENDING: frozenset({P.AUTHORIZED, P.FAILED, P.CANCELED, P.CAPTURED}),
    P.FAILED: frozenset({P.AUTHORIZED, P.CANCELED, P.CAPTURED}),
    P.AUTHORIZED: frozenset({P.CAPTURED, P.CANCELED}),
    P.CAPTURED: frozenset({P.REFUNDED}),
    P.CANCELED: frozenset(),
    P.REFUNDED: frozenset(),
    P.ON_DELIVERY: frozenset(),
}
# The webhook events that may change a payment; others are recorded and ignored.
HANDLED_EVENTS = frozenset(
    {
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.refunded",
    }
)


class PaymentError(DomainError):
    """The processor refused or could not be reached; the caller's transaction rolls back."""

    code = "payment_error"
    http_status = 502


class PaymentGateway(Protocol):
    def capture(self, shipment: Shipment) -> str: ...

    def release(self, shipment: Shipment) -> str: ...

    def refund(self, shipment: Shipment) -> str: ...


class OnDeliveryGateway:
    """Cash or card terminal at the door: nothing to capture or release online."""

    def capture(self, shipment: Shipment) -> str:
        return PaymentState.ON_DELIVERY

    def release(self, shipment: Shipment) -> str:
        return PaymentState.CANCELED

    def refund(self, shipment: Shipment) -> str:
        return PaymentState.CANCELED


@dataclass(frozen=True)
class IntentRef:
    id: str
    client_secret: str
    state: str


def stripe_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def amount_minor(amount: Decimal) -> int:
    """Cents (DropMate's currencies have two decimals)."""
    return int((Decimal(amount) * 100).to_integral_value())


def intent_state(intent: dict[str, Any]) -> str | None:
    """Our payment state for a PaymentIntent as Stripe describes it (None: nothing to say)."""
    status = intent.get("status")
    if status == "requires_payment_method":
        return P.FAILED if intent.get("last_payment_error") else P.PENDING
    return {
        "requires_capture": P.AUTHORIZED,
        "succeeded": P.CAPTURED,
        "canceled": P.CANCELED,
        "processing": P.PENDING,
        "requires_action": P.PENDING,
        "requires_confirmation": P.PENDING,
    }.get(status)


class StripeGateway:
    """Stripe through its official SDK. STRIPE_API_BASE points it at a stand-in (localstripe)."""

    def __init__(self) -> None:
        options: dict[str, Any] = {}
        if settings.STRIPE_API_BASE:
            options["base_addresses"] = {"api": settings.STRIPE_API_BASE.rstrip("/")}
        self.client = stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            max_network_retries=2,
            http_client=stripe.new_default_http_client(timeout=settings.STRIPE_TIMEOUT),
            **options,
        )

    def _call(self, what: str, fn, *args, **kwargs) -> Any:
        try:
            return fn(*args, **kwargs)
        except stripe.StripeError as exc:
            log.warning("stripe %s failed: %s", what, exc)
            message = getattr(exc, "user_message", None) or "The payment processor refused."
            raise PaymentError(f"Payment {what} failed: {message}") from exc

    def authorise(self, shipment: Shipment) -> IntentRef:
        """A manual-capture PaymentIntent for the quoted price. The idempotency key names the
        shipment, the amount and the booking attempt (its version), so a retried request
        never makes a second intent, while a booking edited and made again gets a new one."""
        amount = amount_minor(shipment.price)
        key = (
            f"dropmate-pi-{shipment.tracking_number}-{amount}{shipment.currency}"
            f"-v{shipment.version}"
        )
        intent = self._call(
            "authorisation",
            self.client.v1.payment_intents.create,
            params={
                "amount": amount,
                "currency": shipment.currency.lower(),
                "capture_method": "manual",
                "payment_method_types": ["card"],
                "metadata": {"tracking_number": shipment.tracking_number},
            },
            options={"idempotency_key": key},
        )
        return IntentRef(id=intent.id, client_secret=intent.client_secret, state=P.PENDING)

    def retrieve(self, shipment: Shipment) -> dict[str, Any]:
        intent = self._call(
            "lookup", self.client.v1.payment_intents.retrieve, shipment.payment_reference
        )
        return intent.to_dict()

    def capture(self, shipment: Shipment) -> str:
        intent = self.retrieve(shipment)
        if intent.get("status") == "succeeded":
            return P.CAPTURED
        if intent.get("status") != "requires_capture":
            raise PaymentError("The card payment is not authorised, so it cannot be captured.")
        captured = self._call(
            "capture",
            self.client.v1.payment_intents.capture,
            shipment.payment_reference,
            options={"idempotency_key": f"dropmate-capture-{shipment.payment_reference}"},
        )
        return intent_state(captured.to_dict()) or P.CAPTURED

    def release(self, shipment: Shipment) -> str:
        intent = self.retrieve(shipment)
        if intent.get("status") == "canceled":
            return P.CANCELED
        if intent.get("status") == "succeeded":
            return self.refund(shipment)
        canceled = self._call(
            "release", self.client.v1.payment_intents.cancel, shipment.payment_reference
        )
        return intent_state(canceled.to_dict()) or P.CANCELED

    def refund(self, shipment: Shipment) -> str:
        self._call(
            "refund",
            self.client.v1.refunds.create,
            params={"payment_intent": shipment.payment_reference},
            options={"idempotency_key": f"dropmate-refund-{shipment.payment_reference}"},
        )
        return P.REFUNDED


def gateway_for(shipment: Shipment) -> PaymentGateway:
    if shipment.payment_method == PaymentMethod.CARD:
        if not stripe_configured():
            raise PaymentError("Card payments are not configured on this server.")
        return StripeGateway()
    return OnDeliveryGateway()


# --- Services: the only writers of payment fields besides shipments.services ----------------


def payment_choose_on_delivery(*, shipment: Shipment) -> None:
    Shipment.objects.filter(pk=shipment.pk).update(
        payment_method=PaymentMethod.ON_DELIVERY, payment_state=P.ON_DELIVERY
    )
    shipment.payment_method, shipment.payment_state = PaymentMethod.ON_DELIVERY, P.ON_DELIVERY


def payment_start_card(*, shipment: Shipment) -> IntentRef:
    """Create the authorisation for a shipment just booked (awaiting_payment)."""
    if not stripe_configured():
        raise PaymentError("Card payments are not configured on this server.")
    intent = StripeGateway().authorise(shipment)
    Shipment.objects.filter(pk=shipment.pk).update(
        payment_method=PaymentMethod.CARD, payment_reference=intent.id, payment_state=P.PENDING
    )
    shipment.payment_method = PaymentMethod.CARD
    shipment.payment_reference, shipment.payment_state = intent.id, P.PENDING
    return intent


def payment_client_secret(*, shipment: Shipment) -> str:
    """What Stripe Elements needs to confirm the card in the page."""
    if shipment.payment_method != PaymentMethod.CARD or not shipment.payment_reference:
        return ""
    return StripeGateway().retrieve(shipment).get("client_secret", "")


def payment_abandon(*, shipment: Shipment) -> None:
    """The booking went back to draft: release the intent and forget it."""
    if shipment.payment_method == PaymentMethod.CARD and shipment.payment_reference:
        StripeGateway().release(shipment)
    Shipment.objects.filter(pk=shipment.pk).update(
        payment_method="", payment_reference="", payment_state=P.NONE, payment_updated_at=None
    )
    shipment.payment_method, shipment.payment_reference = "", ""
    shipment.payment_state, shipment.payment_updated_at = P.NONE, None


def _apply_state(
    *, shipment: Shipment, state: str, at: datetime, intent: dict[str, Any] | None, source: str
) -> str:
    """Apply a payment state reported by Stripe at time `at`. Expects the row locked.

    Returns what happened: applied, stale, same, out_of_order or amount_mismatch. Authorising a
    shipment that awaits payment moves it to pending_review (a system move)."""
    from shipments.services import shipment_transition

    if shipment.payment_updated_at and at < shipment.payment_updated_at:
        return "stale"
    if state == shipment.payment_state:
        return "same"
    if state not in ALLOWED_NEXT.get(shipment.payment_state, frozenset()):
        return "out_of_order"
    if state == P.AUTHORIZED and intent is not None:
        capturable = intent.get("amount_capturable") or intent.get("amount")
        if capturable != amount_minor(shipment.price or 0) or (
            str(intent.get("currency", "")).upper() != shipment.currency.upper()
        ):
            log.error("payment %s: authorised amount does not match the quote", shipment)
            return "amount_mismatch"
    Shipment.objects.filter(pk=shipment.pk).update(payment_state=state, payment_updated_at=at)
    shipment.payment_state, shipment.payment_updated_at = state, at
    if state == P.AUTHORIZED and shipment.status == Status.AWAITING_PAYMENT:
        shipment_transition(
            shipment=shipment,
            to=Status.PENDING_REVIEW,
            actor=None,
            data={"payment": state, "source": source},
        )
    return "applied"


def _event_subject(event: dict[str, Any]) -> tuple[str, str | None, dict[str, Any] | None]:
    """(payment intent id, state, intent) that an event reports."""
    obj = (event.get("data") or {}).get("object") or {}
    type_ = event.get("type", "")
    if type_.startswith("payment_intent."):
        return obj.get("id", ""), intent_state(obj), obj
    if type_ == "charge.refunded":
        return obj.get("payment_intent") or "", (P.REFUNDED if obj.get("refunded") else None), None
    return "", None, None


@transaction.atomic
def payment_event_apply(*, event: dict[str, Any]) -> PaymentEvent | None:
    """Apply one verified Stripe event, once. Returns None when the event id was seen before.

    Locks the shipment before recording the event id, so concurrent deliveries of the same
    event queue on the row and all but the first find the id recorded."""
    event_id = str(event.get("id") or "")
    if not event_id:
        return None
    type_ = str(event.get("type") or "")[:100]
    created = datetime.fromtimestamp(int(event.get("created") or 0), tz=UTC)
    reference, state, intent = _event_subject(event)
    shipment = (
        Shipment.objects.select_for_update().filter(payment_reference=reference).first()
        if reference
        else None
    )
    try:
        with transaction.atomic():
            record = PaymentEvent.objects.create(
                stripe_event_id=event_id[:255], type=type_, created=created, shipment=shipment
            )
    except IntegrityError:
        return None
    outcome = "ignored"
    if shipment is not None and type_ in HANDLED_EVENTS and state is not None:
        outcome = _apply_state(
            shipment=shipment, state=state, at=created, intent=intent, source=type_
        )
    PaymentEvent.objects.filter(pk=record.pk).update(outcome=outcome)
    record.outcome = outcome
    return record


def payments_stuck(*, older_than: timedelta, now: datetime | None = None):
    cutoff = (now or timezone.now()) - older_than
    return (
        Shipment.objects.filter(payment_method=PaymentMethod.CARD, payment_state=P.PENDING)
        .exclude(payment_reference="")
        .filter(
            Q(payment_updated_at__lt=cutoff)
            | Q(payment_updated_at__isnull=True, status_changed_at__lt=cutoff)
        )
    )


def payment_reconcile_one(*, shipment_id: int) -> str:
    """Ask Stripe about one pending payment and apply what it says (a lost webhook healed)."""
    shipment = Shipment.objects.get(pk=shipment_id)
    intent = StripeGateway().retrieve(shipment)
    state = intent_state(intent)
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().get(pk=shipment_id)
        if locked.payment_reference != shipment.payment_reference or state is None:
            return "ignored"
        return _apply_state(
            shipment=locked, state=state, at=timezone.now(), intent=intent, source="reconcile"
        )


def payments_reconcile(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Reconcile every card payment pending for longer than `older_than`."""
    if not stripe_configured():
        return {}
    older_than = older_than or timedelta(minutes=settings.STRIPE_RECONCILE_AFTER_MINUTES)
    outcomes: dict[str, int] = {}
    for shipment_id in payments_stuck(older_than=older_than).values_list("pk", flat=True):
        try:
            outcome = payment_reconcile_one(shipment_id=shipment_id)
        except PaymentError:
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
