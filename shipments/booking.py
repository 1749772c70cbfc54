"""The booking wizard's services: save a step on a draft, price it, book it.

Pages parse input with forms; the rules that decide whether a booking is acceptable live here,
so every caller (page, API) gets the same answer. A rule that fails raises `BookingInvalid`
with one message per field, which pages show beside the field.

Steps: pickup → dropoff → parcel → service → review. The draft is saved after every step, so a
reload, the back button or a visit days later resumes it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dropmate.accounts.models import User
from dropmate.lib.exceptions import Invalid, InvalidTransition, NotFound
from dropmate.lib.geocoding import geocode
from shipments import lifecycle, payments, pricing, services
from shipments.lifecycle import Status
from shipments.models import PaymentMethod, ServiceLevel, Shipment, SizeClass

STEPS: tuple[str, ...] = ("pickup", "dropoff", "parcel", "service", "review")
STEP_LABELS = {
    "pickup": "Pickup",
    "dropoff": "Drop-off",
    "parcel": "Parcel",
    "service": "Service and times",
    "review": "Review and pay",
}


def _side_fields(side: str) -> tuple[str, ...]:
    return tuple(f"{side}_{part}" for part in services.ADDRESS_PARTS)


STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "pickup": _side_fields("pickup"),
    "dropoff": _side_fields("dropoff"),
    "parcel": (
        "size_class",
        "weight_kg",
        "length_cm",
        "width_cm",
        "height_cm",
        "declared_value",
        "description",
        "reference",
    ),
    "service": (
        "service_level",
        "pickup_window_start",
        "pickup_window_end",
        "delivery_window_start",
        "delivery_window_end",
    ),
}
# What a step needs before the wizard moves past it.
STEP_REQUIRED: dict[str, tuple[str, ...]] = {
    "pickup": (
        "pickup_address",
        "pickup_city",
        "pickup_lat",
        "pickup_lng",
        "pickup_contact_name",
        "pickup_contact_phone",
    ),
    "dropoff": (
        "dropoff_address",
        "dropoff_city",
        "dropoff_lat",
        "dropoff_lng",
        "dropoff_contact_name",
        "dropoff_contact_phone",
    ),
    "parcel": ("size_class", "weight_kg", "description"),
    "service": (
        "service_level",
        "pickup_window_start",
        "pickup_window_end",
        "delivery_window_start",
        "delivery_window_end",
    ),
}
# Two pins closer than this are the same place.
SAME_PLACE_KM = 0.05
MAX_SIDE_CM = 300
# (size class, longest side cm, volume litres) from small to large: dimensions decide the class
# when they make it larger than the one chosen, so dimensions never dodge a surcharge.
_SIZE_LIMITS = (
    (SizeClass.SMALL, 35, 10),
    (SizeClass.MEDIUM, 60, 40),
    (SizeClass.LARGE, 100, 150),
    (SizeClass.XLARGE, MAX_SIDE_CM, 10_000),
)
_SIZE_ORDER = [s for s, _, _ in _SIZE_LIMITS]


class BookingInvalid(Invalid):
    """One message per field: `details["fields"]` maps a field name to its message."""

    def __init__(self, fields: dict[str, str]) -> None:
        first = next(iter(fields.values()))
        super().__init__(first, details={"fields": fields})
        self.fields = fields


@dataclass(frozen=True)
class BookingResult:
    shipment: Shipment
    # Where the customer goes next: "pay" (card page) or "detail".
    next: str
    client_secret: str = ""


# --- Rules -----------------------------------------------------------------------------------


def size_class_from_dimensions(length: int, width: int, height: int) -> str:
    longest = max(length, width, height)
    litres = length * width * height / 1000
    for size, max_side, max_litres in _SIZE_LIMITS:
        if longest <= max_side and litres <= max_litres:
            return size
    return SizeClass.XLARGE


def _larger_size(a: str, b: str) -> str:
    if not a:
        return b
    if not b:
        return a
    return a if _SIZE_ORDER.index(a) >= _SIZE_ORDER.index(b) else b


def _check_side(side: str, data: dict[str, Any], errors: dict[str, str]) -> None:
    lat, lng = data.get(f"{side}_lat"), data.get(f"{side}_lng")
    if lat is None or lng is None:
        errors[f"{side}_lat"] = "Place a pin on the map, or search for the address."
    elif not (-90 <= lat <= 90 and -180 <= lng <= 180):
        errors[f"{side}_lat"] = "That pin is not on Earth: latitude -90..90, longitude -180..180."
    for name, label in (
        ("address", "the street and number"),
        ("city", "the city"),
        ("contact_name", "a contact name"),
        ("contact_phone", "a contact phone"),
    ):
        if not str(data.get(f"{side}_{name}") or "").strip():
            errors.setdefault(f"{side}_{name}", f"Enter {label}.")


def _same_place(shipment_like: dict[str, Any]) -> bool:
    from dropmate.lib.geo import haversine_km

    a = (shipment_like.get("pickup_lat"), shipment_like.get("pickup_lng"))
    b = (shipment_like.get("dropoff_lat"), shipment_like.get("dropoff_lng"))
    if None in a or None in b:
        return False
    if haversine_km(a, b) < SAME_PLACE_KM:
        return True

    def line(side: str) -> str:
        parts = (
            str(shipment_like.get(f"{side}_{n}") or "") for n in ("address", "address2", "city")
        )
        return " ".join(" ".join(parts).lower().split())

    return line("pickup") == line("dropoff")


def _check_parcel(data: dict[str, Any], errors: dict[str, str]) -> None:
    weight = data.get("weight_kg")
    if weight is None:
        errors["weight_kg"] = "Enter the weight in kg."
    elif weight <= 0:
        errors["weight_kg"] = "The weight must be more than 0 kg."
    elif weight > settings.DROPMATE_MAX_WEIGHT_KG:
        errors["weight_kg"] = f"We carry parcels up to {settings.DROPMATE_MAX_WEIGHT_KG} kg."
    dims = [data.get(n) for n in ("length_cm", "width_cm", "height_cm")]
    given = [d for d in dims if d is not None]
    if given and len(given) != 3:
        errors["length_cm"] = "Give all three dimensions, or none and choose a size."
    elif given and any(d <= 0 or d > MAX_SIDE_CM for d in given):
        errors["length_cm"] = f"Each side must be between 1 and {MAX_SIDE_CM} cm."
    if not data.get("size_class") and not given:
        errors["size_class"] = "Choose a size, or give the dimensions."
    elif data.get("size_class") and data["size_class"] not in SizeClass.values:
        errors["size_class"] = "Choose one of the sizes offered."
    value = data.get("declared_value")
    if value is not None and (value < 0 or value > settings.DROPMATE_MAX_DECLARED_VALUE):
        errors["declared_value"] = (
            f"The declared value must be between 0 and {settings.DROPMATE_MAX_DECLARED_VALUE}."
        )
    if not str(data.get("description") or "").strip():
        errors["description"] = "Say briefly what the parcel contains."


def window_errors(
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    field: str,
    not_future: str,
    not_after: str,
) -> dict[str, str]:
    """The booking rules for one window (`<field>_start`, `<field>_end`): it starts in the
    future, at most DROPMATE_BOOKING_HORIZON_DAYS ahead, and ends after it starts. Also what a
    new delivery time after a failed attempt must follow."""
    errors: dict[str, str] = {}
    days = settings.DROPMATE_BOOKING_HORIZON_DAYS
    if start <= now:
        errors[f"{field}_start"] = not_future
    elif start > now + timedelta(days=days):
        errors[f"{field}_start"] = f"We book at most {days} days ahead."
    if end <= start:
        errors[f"{field}_end"] = not_after
    return errors


def _check_service(data: dict[str, Any], errors: dict[str, str], now: datetime) -> None:
    if data.get("service_level") not in ServiceLevel.values:
        errors["service_level"] = "Choose a service level."
    ps, pe = data.get("pickup_window_start"), data.get("pickup_window_end")
    ds, de = data.get("delivery_window_start"), data.get("delivery_window_end")
    for name, value in (
        ("pickup_window_start", ps),
        ("pickup_window_end", pe),
        ("delivery_window_start", ds),
        ("delivery_window_end", de),
    ):
        if value is None:
            errors[name] = "Choose a date and time."
    if errors:
        return
    errors.update(
        window_errors(
            ps,
            pe,
            now=now,
            field="pickup_window",
            not_future="The pickup window must start in the future.",
            not_after="The pickup window must end after it starts.",
        )
    )
    if ds < ps:
        errors["delivery_window_start"] = "Delivery cannot start before the pickup window."
    if de <= ds:
        errors["delivery_window_end"] = "The delivery window must end after it starts."
    elif de < pe:
        errors["delivery_window_end"] = "Delivery must end after the pickup window ends."


def booking_check_step(
    *, step: str, data: dict[str, Any], shipment: Shipment | None = None
) -> None:
    """Raise BookingInvalid when `data` breaks a booking rule for `step`.

    `shipment` gives the other steps' values for the cross-step rules (pickup ≠ drop-off)."""
    errors: dict[str, str] = {}
    now = timezone.now()
    if step in ("pickup", "dropoff"):
        _check_side(step, data, errors)
        sides = STEP_FIELDS["pickup"] + STEP_FIELDS["dropoff"]
        merged = {n: getattr(shipment, n) for n in sides} if shipment is not None else {}
        merged.update(data)
        if not errors and _same_place(merged):
            errors[f"{step}_address"] = "Pickup and drop-off must be different places."
    elif step == "parcel":
        _check_parcel(data, errors)
    elif step == "service":
        _check_service(data, errors, now)
    else:
        raise Invalid(f"Unknown step {step!r}.")
    if errors:
        raise BookingInvalid(errors)


def booking_first_incomplete_step(shipment: Shipment) -> str:
    """Where a resumed draft continues: the first step with something missing."""
    for step in STEPS[:-1]:
        if any(getattr(shipment, name) in (None, "") for name in STEP_REQUIRED[step]):
            return step
    return "review"


def booking_steps_done(shipment: Shipment) -> set[str]:
    done = set()
    for step in STEPS[:-1]:
        if all(getattr(shipment, name) not in (None, "") for name in STEP_REQUIRED[step]):
            done.add(step)
    return done


# --- Writes ----------------------------------------------------------------------------------


def _normalise(step: str, data: dict[str, Any]) -> dict[str, Any]:
    """Keep only the step's fields; fill a missing pin by geocoding when a backend exists."""
    clean = {k: v for k, v in data.items() if k in STEP_FIELDS[step]}
    if step in ("pickup", "dropoff") and (
        clean.get(f"{step}_lat") is None or clean.get(f"{step}_lng") is None
    ):
        query = ", ".join(
            str(clean.get(f"{step}_{n}") or "") for n in ("address", "postcode", "city")
        )
        found = geocode(query)
        if found is not None:
            clean[f"{step}_lat"], clean[f"{step}_lng"] = found.lat, found.lng
    if step == "parcel":
        dims = [clean.get(n) for n in ("length_cm", "width_cm", "height_cm")]
        if all(d is not None for d in dims):
            clean["size_class"] = _larger_size(
                clean.get("size_class") or "", size_class_from_dimensions(*dims)
            )
        if clean.get("declared_value") is None:
            clean["declared_value"] = Decimal("0.00")
    for name, value in list(clean.items()):
        if isinstance(value, str):
            clean[name] = value.strip()
    return clean


def _requote_if_possible(shipment: Shipment, actor: User) -> None:
    if shipment.pickup_point and shipment.dropoff_point and shipment.weight_kg:
        pricing.shipment_quote(shipment=shipment, actor=actor)
    elif shipment.price is not None:
        Shipment.objects.filter(pk=shipment.pk).update(
            price=None, price_breakdown=[], quoted_at=None
        )


@transaction.atomic
def booking_step_save(
    *, customer: User, step: str, data: dict[str, Any], shipment: Shipment | None = None
) -> Shipment:
    """Save one wizard step. Creates the draft on the first step when `shipment` is None.

    Every save that leaves the draft priceable re-quotes it with the active rule, so the review
    step always shows the price for what was typed; a booked shipment is never re-priced."""
    if step not in STEP_FIELDS:
        raise Invalid(f"Unknown step {step!r}.")
    clean = _normalise(step, data)
    booking_check_step(step=step, data=clean, shipment=shipment)
    if shipment is None:
        saved = services.shipment_create_draft(customer=customer, **clean)
    else:
        saved = services.shipment_update_draft(shipment=shipment, actor=customer, **clean)
    _requote_if_possible(saved, customer)
    saved.refresh_from_db()
    return saved


def _check_all(shipment: Shipment) -> None:
    """Every step's rules again at booking: a draft resumed days later may have stale windows."""
    errors: dict[str, str] = {}
    for step in STEPS[:-1]:
        data = {name: getattr(shipment, name) for name in STEP_FIELDS[step]}
        try:
            booking_check_step(step=step, data=data, shipment=shipment)
        except BookingInvalid as exc:
            errors.update(exc.fields)
    if errors:
        raise BookingInvalid(errors)


def booking_payment_methods() -> list[tuple[str, str]]:
    methods = [(PaymentMethod.ON_DELIVERY.value, "Pay on delivery (cash or card at the door)")]
    if payments.stripe_configured():
        methods.insert(
            0, (PaymentMethod.CARD.value, "Card, now (authorised, charged on acceptance)")
        )
    return methods


@transaction.atomic
def booking_book(*, shipment: Shipment, actor: User, payment_method: str) -> BookingResult:
    """Book a priced draft: draft → awaiting_payment, then start the payment.

    Pay on delivery moves straight on to pending_review (a system move). A card payment
    creates a manual-capture PaymentIntent for the quoted amount; the webhook that confirms
    the authorisation moves the shipment on."""
    locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
    if locked.customer_id != actor.pk:
        raise NotFound("No such shipment.")
    if locked.status != Status.DRAFT:
        raise InvalidTransition("This booking was already made.")
    if payment_method not in dict(booking_payment_methods()):
        raise BookingInvalid({"payment_method": "Choose a payment method offered."})
    _check_all(locked)
    if locked.price is None or not locked.price_breakdown:
        raise Invalid("This booking has no price yet: go back and complete every step.")
    moved = services.shipment_transition(
        shipment=locked, to=Status.AWAITING_PAYMENT, actor=actor, expected_version=locked.version
    )
    if payment_method == PaymentMethod.ON_DELIVERY:
        payments.payment_choose_on_delivery(shipment=moved)
        moved = services.shipment_transition(
            shipment=moved,
            to=Status.PENDING_REVIEW,
            actor=None,
            data={"payment_method": PaymentMethod.ON_DELIVERY.value},
        )
        return BookingResult(shipment=moved, next="detail")
    intent = payments.payment_start_card(shipment=moved)
    return BookingResult(shipment=moved, next="pay", client_secret=intent.client_secret)


@transaction.atomic
def booking_back_to_draft(*, shipment: Shipment, actor: User) -> Shipment:
    """Leave the card page to edit the booking: releases the unconfirmed PaymentIntent."""
    locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
    if locked.customer_id != actor.pk:
        raise NotFound("No such shipment.")
    moved = services.shipment_transition(shipment=locked, to=Status.DRAFT, actor=actor)
    payments.payment_abandon(shipment=moved)
    return moved


def booking_may_delete(shipment: Shipment) -> bool:
    return shipment.status == lifecycle.Status.DRAFT
