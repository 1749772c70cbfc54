"""The privacy rule across the lifecycle: a customer sees the driver only while their own
shipment is out for delivery with that driver and their stop is the next one."""

import pytest

from shipments import services
from shipments.lifecycle import Status
from tests.factories import make_shipment
from tests.tracking.conftest import fix_at
from tracking.selectors import shipment_live_position
from tracking.services import fixes_ingest

pytestmark = pytest.mark.django_db(transaction=True)


def drive(driver, lat=51.0510, lng=3.7230, seconds_ago=0):
    [result] = fixes_ingest(driver=driver, fixes=[fix_at(lat, lng, seconds_ago=seconds_ago)])
    assert result["status"] == "accepted"


@pytest.mark.parametrize(
    "status", [Status.ASSIGNED, Status.PICKED_UP, Status.IN_TRANSIT, Status.FAILED_ATTEMPT]
)
def test_customer_sees_no_position_before_out_for_delivery(shipment_in, alice, dan, dora, status):
    shipment = shipment_in(status)
    drive(dan)
    assert shipment_live_position(shipment=shipment, user=alice) is None
    # Staff and the driver do.
    assert shipment_live_position(shipment=shipment, user=dora)["lat"] == 51.0510
    assert shipment_live_position(shipment=shipment, user=dan.user)["lat"] == 51.0510


def test_customer_sees_position_while_out_for_delivery_and_not_after(shipment_in, alice, dan):
    shipment = shipment_in(Status.OUT_FOR_DELIVERY)
    drive(dan)
    assert shipment_live_position(shipment=shipment, user=alice)["lng"] == 3.7230
    services.shipment_transition(shipment=shipment, to=Status.DELIVERED, actor=dan.user)
    shipment.refresh_from_db()
    drive(dan, 51.0511, 3.7231)
    assert shipment_live_position(shipment=shipment, user=alice) is None


def test_nobody_else_sees_the_position(shipment_in, bob, erin, dan):
    shipment = shipment_in(Status.OUT_FOR_DELIVERY)
    drive(dan)
    assert shipment_live_position(shipment=shipment, user=bob) is None
    assert shipment_live_position(shipment=shipment, user=erin.user) is None


def test_customer_sees_nothing_while_the_driver_serves_another_stop(alice, bob, dan, dora):
    alices = make_shipment(customer=alice, status=Status.OUT_FOR_DELIVERY, driver=dan, staff=dora)
    bobs = make_shipment(
        customer=bob,
        status=Status.OUT_FOR_DELIVERY,
        driver=dan,
        staff=dora,
        dropoff_lat=51.0400,
        dropoff_lng=3.7100,
    )
    drive(dan, 51.0405, 3.7105)  # next to bob's door
    assert shipment_live_position(shipment=alices, user=alice) is None
    assert shipment_live_position(shipment=bobs, user=bob) is not None


def test_customer_never_sees_a_stale_position(shipment_in, alice, dora, dan, settings):
    shipment = shipment_in(Status.OUT_FOR_DELIVERY)
    drive(dan, seconds_ago=settings.TRACKING_STALE_FIX_S + 10)
    assert shipment_live_position(shipment=shipment, user=alice) is None
    staff_view = shipment_live_position(shipment=shipment, user=dora)
    assert staff_view["stale"] is True
