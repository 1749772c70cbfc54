"""The database itself refuses bad rows, whatever code path tries to write them."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from shipments.models import Shipment, ShipmentEvent
from tests.factories import draft_fields


def _insert(customer, **overrides):
    with transaction.atomic():
        Shipment.objects.create(customer=customer, **draft_fields(**overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"weight_kg": Decimal("-1")},
        {"weight_kg": Decimal("0")},
        {"pickup_lat": 91.0},
        {"pickup_lng": -180.5},
        {"dropoff_lat": -90.01},
        {"dropoff_lng": 200.0},
        {"declared_value": Decimal("-5")},
        {"price": Decimal("-0.01")},
    ],
)
def test_database_rejects_out_of_range_values(alice, overrides):
    with pytest.raises(IntegrityError):
        _insert(alice, **overrides)
    assert Shipment.objects.count() == 0


def test_database_rejects_windows_that_end_before_they_start(alice):
    fields = draft_fields()
    with pytest.raises(IntegrityError):
        _insert(alice, delivery_window_end=fields["delivery_window_start"])


def test_database_rejects_a_shipment_on_the_road_without_driver(alice):
    with pytest.raises(IntegrityError):
        _insert(alice, status="picked_up")


def test_database_rejects_an_unknown_status(alice):
    with pytest.raises(IntegrityError):
        _insert(alice, status="teleported")


def test_database_rejects_a_duplicate_event_seq(shipment_in):
    shipment = shipment_in("draft")
    with pytest.raises(IntegrityError), transaction.atomic():
        ShipmentEvent.objects.create(shipment=shipment, seq=1, status="draft")
    assert shipment.events.count() == 1


def test_database_accepts_a_valid_row(alice):
    _insert(alice)
    assert Shipment.objects.count() == 1
