"""The quote service: the server's price for a shipment, with its breakdown line by line.

Clients never send a price. A quote copies the rule's figures into the breakdown, so a rule
edited later never changes a price already quoted.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from dropmate.accounts.models import User
from dropmate.lib.exceptions import Invalid, InvalidTransition, NotFound
from dropmate.lib.geo import haversine_km
from shipments.lifecycle import Status
from shipments.models import PricingRule, ServiceLevel, Shipment, SizeClass

CENT = Decimal("0.01")


@dataclass
class Quote:
    total: Decimal
    currency: str
    distance_km: Decimal
    lines: list[dict[str, str]] = field(default_factory=list)
    rule_id: int | None = None


def pricing_rule_active() -> PricingRule:
    """The active rule; the built-in defaults when staff have not saved one yet."""
    return PricingRule.objects.filter(active=True).first() or PricingRule(name="Default")


def quote_compute(
    *,
    pickup: tuple[float, float],
    dropoff: tuple[float, float],
    weight_kg: Decimal,
    size_class: str,
    service_level: str,
    rule: PricingRule | None = None,
) -> Quote:
    rule = rule or pricing_rule_active()
    if pickup == dropoff:
        raise Invalid("Pickup and drop-off must be different places.")
    km = (Decimal(str(haversine_km(pickup, dropoff))) * rule.road_factor).quantize(CENT)
    lines: list[tuple[str, Decimal]] = [
        ("Base fee", rule.base_fee),
        (f"Distance {km} km × {rule.per_km}", (km * rule.per_km).quantize(CENT)),
    ]
    weight = Decimal(weight_kg)
    if weight > rule.included_kg:
        over = weight - rule.included_kg
        lines.append(
            (f"Weight over {rule.included_kg} kg", (over * rule.per_kg_over).quantize(CENT))
        )
    size_surcharge = {
        SizeClass.MEDIUM: rule.surcharge_medium,
        SizeClass.LARGE: rule.surcharge_large,
        SizeClass.XLARGE: rule.surcharge_xlarge,
    }.get(size_class, Decimal("0"))
    if size_surcharge:
        lines.append((f"Size: {SizeClass(size_class).label}", size_surcharge))
    subtotal = sum((amount for _, amount in lines), Decimal("0"))
    multiplier = {
        ServiceLevel.EXPRESS: rule.multiplier_express,
        ServiceLevel.SAME_DAY: rule.multiplier_same_day,
    }.get(service_level, Decimal("1"))
    if multiplier != 1:
        extra = (subtotal * (multiplier - 1)).quantize(CENT)
        lines.append((f"{ServiceLevel(service_level).label} service × {multiplier}", extra))
        subtotal += extra
    if subtotal < rule.minimum_fare:
        lines.append(("Minimum fare top-up", rule.minimum_fare - subtotal))
        subtotal = rule.minimum_fare
    step = rule.rounding_step
    total = ((subtotal / step).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * step).quantize(CENT)
    if total != subtotal:
        lines.append(("Rounding", total - subtotal))
    return Quote(
        total=total,
        currency=rule.currency,
        distance_km=km,
        lines=[{"label": label, "amount": str(amount.quantize(CENT))} for label, amount in lines],
        rule_id=rule.pk,
    )


def _require_quotable(shipment: Shipment) -> None:
    missing = [
        name
        for name, value in (
            ("pickup location", shipment.pickup_point),
            ("drop-off location", shipment.dropoff_point),
            ("weight", shipment.weight_kg),
        )
        if value is None
    ]
    if missing:
        raise Invalid(f"Cannot price this shipment yet: missing {', '.join(missing)}.")


@transaction.atomic
def shipment_quote(*, shipment: Shipment, actor: User) -> Quote:
    """Price a draft with the active rule and store the quote on it."""
    locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
    if locked.customer_id != actor.pk:
        raise NotFound("No such shipment.")
    if locked.status != Status.DRAFT:
        raise InvalidTransition("Only a draft can be priced again.")
    _require_quotable(locked)
    quote = quote_compute(
        pickup=locked.pickup_point,
        dropoff=locked.dropoff_point,
        weight_kg=locked.weight_kg,
        size_class=locked.size_class,
        service_level=locked.service_level,
    )
    locked.price = quote.total
    locked.currency = quote.currency
    locked.price_breakdown = quote.lines
    locked.quoted_at = timezone.now()
    locked.save(update_fields=["price", "currency", "price_breakdown", "quoted_at", "updated_at"])
    shipment.price, shipment.price_breakdown = locked.price, locked.price_breakdown
    return quote
