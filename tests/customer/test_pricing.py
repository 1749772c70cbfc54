"""The quote service: each line of the breakdown, the minimum fare, rounding, and a rule
edited later never changing a price already quoted. Expected figures are worked out by hand."""

from decimal import Decimal

import pytest

from dropmate.lib.exceptions import Invalid
from shipments.models import PricingRule
from shipments.pricing import quote_compute, shipment_quote
from tests.factories import make_shipment

# Two points 0.1° of latitude apart: 11.12 km as the crow flies.
A = (51.0, 3.7)
B = (51.1, 3.7)


@pytest.fixture
def rule(db):
    return PricingRule.objects.create(
        name="Test",
        active=True,
        base_fee=Decimal("4.00"),
        per_km=Decimal("1.00"),
        road_factor=Decimal("1.50"),
        included_kg=Decimal("5"),
        per_kg_over=Decimal("0.50"),
        surcharge_medium=Decimal("1.00"),
        surcharge_large=Decimal("3.00"),
        surcharge_xlarge=Decimal("6.00"),
        multiplier_express=Decimal("1.50"),
        multiplier_same_day=Decimal("2.00"),
        minimum_fare=Decimal("6.00"),
        rounding_step=Decimal("0.50"),
    )


def lines(quote) -> dict[str, str]:
    return {line["label"].split(" ")[0]: line["amount"] for line in quote.lines}


def test_base_fee_and_distance_with_the_road_factor(rule):
    quote = quote_compute(
        pickup=A, dropoff=B, weight_kg=Decimal("1"), size_class="small", service_level="standard"
    )
    # 11.119 km × 1.5 = 16.68 km; × 1.00 €/km = 16.68
    assert quote.distance_km == Decimal("16.68")
    assert quote.lines[0] == {"label": "Base fee", "amount": "4.00"}
    assert quote.lines[1] == {"label": "Distance 16.68 km × 1.00", "amount": "16.68"}
    # 20.68 rounds to the nearest 0.50: 20.50, a -0.18 rounding line.
    assert quote.lines[-1] == {"label": "Rounding", "amount": "-0.18"}
    assert quote.total == Decimal("20.50")
    assert sum(Decimal(x["amount"]) for x in quote.lines) == quote.total


def test_weight_over_the_included_kilos(rule):
    quote = quote_compute(
        pickup=A, dropoff=B, weight_kg=Decimal("9"), size_class="small", service_level="standard"
    )
    assert lines(quote)["Weight"] == "2.00"  # 4 kg over × 0.50


@pytest.mark.parametrize(
    ("size", "amount"), [("medium", "1.00"), ("large", "3.00"), ("xlarge", "6.00")]
)
def test_size_surcharge(rule, size, amount):
    quote = quote_compute(
        pickup=A, dropoff=B, weight_kg=Decimal("1"), size_class=size, service_level="standard"
    )
    assert lines(quote)["Size:"] == amount


def test_small_parcels_have_no_size_line(rule):
    quote = quote_compute(
        pickup=A, dropoff=B, weight_kg=Decimal("1"), size_class="small", service_level="standard"
    )
    assert "Size:" not in lines(quote) and "Weight" not in lines(quote)


@pytest.mark.parametrize(("level", "extra"), [("express", "10.34"), ("same_day", "20.68")])
def test_service_level_multiplier_applies_to_the_subtotal(rule, level, extra):
    quote = quote_compute(
        pickup=A, dropoff=B, weight_kg=Decimal("1"), size_class="small", service_level=level
    )
    # subtotal 20.68 × (1.5 - 1) = 10.34; × (2 - 1) = 20.68
    assert lines(quote)[{"express": "Express", "same_day": "Same"}[level]] == extra


def test_minimum_fare_tops_up_a_short_trip(rule):
    near = (51.0, 3.7001)
    quote = quote_compute(
        pickup=A, dropoff=near, weight_kg=Decimal("1"), size_class="small", service_level="standard"
    )
    assert quote.total == Decimal("6.00")
    assert quote.lines[-1]["label"] == "Minimum fare top-up"
    assert sum(Decimal(x["amount"]) for x in quote.lines) == Decimal("6.00")


def test_same_place_cannot_be_priced(rule):
    with pytest.raises(Invalid):
        quote_compute(
            pickup=A,
            dropoff=A,
            weight_kg=Decimal("1"),
            size_class="small",
            service_level="standard",
        )


def test_editing_the_rule_never_changes_an_existing_quote(rule, alice):
    shipment = make_shipment(customer=alice)
    shipment_quote(shipment=shipment, actor=alice)
    shipment.refresh_from_db()
    price, breakdown = shipment.price, list(shipment.price_breakdown)
    rule.base_fee = Decimal("40.00")
    rule.per_km = Decimal("9.00")
    rule.save()
    shipment.refresh_from_db()
    assert shipment.price == price and shipment.price_breakdown == breakdown
    # A new quote uses the new rule.
    other = make_shipment(customer=alice)
    shipment_quote(shipment=other, actor=alice)
    other.refresh_from_db()
    assert other.price > price


def test_a_booked_shipment_keeps_its_price_after_a_rule_change(rule, alice, client, posts):
    from django.urls import reverse

    from shipments.lifecycle import Status
    from shipments.models import Shipment

    client.force_login(alice)
    client.post(reverse("customer-book-new", kwargs={"step": "pickup"}), posts["pickup"])
    shipment = Shipment.objects.get()
    for step in ("dropoff", "parcel", "service"):
        client.post(
            reverse("customer-book-step", args=[shipment.tracking_number, step]), posts[step]
        )
    client.post(
        reverse("customer-book-review", args=[shipment.tracking_number]),
        {"payment_method": "on_delivery"},
    )
    shipment.refresh_from_db()
    assert shipment.status == Status.PENDING_REVIEW
    price = shipment.price
    PricingRule.objects.filter(pk=rule.pk).update(base_fee=Decimal("99.00"))
    shipment.refresh_from_db()
    assert shipment.price == price
    page = client.get(reverse("customer-shipment", args=[shipment.tracking_number]))
    assert f"{price} EUR" in page.content.decode()
