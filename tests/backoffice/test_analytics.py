"""Analytics figures against a small fixture computed by hand (2–4 March 2026, UTC).

    S1 delivered   created 2 Mar 09:00, picked 10:00, delivered 10:30, window end 11:00 (on time)
                   10.00 pay on delivery; ETA 10:20 vs 10:30 → 10 min off
    S2 delivered   created 2 Mar 12:00, picked 13:00, delivered 14:00, window end 13:30 (late)
                   20.00 captured; ETA 14:30 vs 14:00 → 30 min off
    S3 delivered   created 3 Mar 08:00, picked 08:30, delivered 10:00, window end 12:00 (on time)
                   30.00 pay on delivery; no ETA
    S4 cancelled   created 3 Mar 11:00, 15.00 refunded
    S5 failed      created 4 Mar 13:00, picked 14:00, failed (not home) 15:00
    S6 pending     created 4 Mar 16:00, 12.00 authorised (not revenue)
    S7 delivered   created 20 Feb: outside the range
    a position fix of dan's at 3 Mar 07:30

Pickup to delivery: 30, 60, 90 min → p50 60, p90 60 + 0.8 × 30 = 84.
ETA error: 10, 30 → p50 20, p90 10 + 0.9 × 20 = 28.
Dan on duty: 2 Mar 10:00–14:00 (4 h) + 3 Mar 07:30–10:00 (2.5 h) + 4 Mar 14:00–15:00 (1 h)
= 7.5 h; busy 3 h → 40 %; 3 deliveries → 0.4 per hour.
"""

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from shipments import analytics
from shipments.analytics import Period
from shipments.lifecycle import Status
from shipments.models import PaymentState, Shipment, ShipmentEvent
from tracking.models import LocationFix

UTC = datetime.fromisoformat("2026-01-01T00:00+00:00").tzinfo
RANGE = Period(start=date(2026, 3, 2), end=date(2026, 3, 4))
EMPTY = Period(start=date(2025, 1, 1), end=date(2025, 1, 3))


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}").replace(tzinfo=UTC)


def stamp(shipment, *, created, picked=None, done=None, **fields):
    """Put the fixture's times on a shipment made through the lifecycle service."""
    if "delivery_window_end" in fields:
        fields["delivery_window_start"] = fields["delivery_window_end"] - timedelta(hours=2)
    Shipment.objects.filter(pk=shipment.pk).update(
        created_at=created, status_changed_at=done or created, **fields
    )
    events = ShipmentEvent.objects.filter(shipment=shipment)
    events.exclude(actor_role="driver").update(created_at=created)
    if picked:
        events.filter(actor_role="driver").update(created_at=picked)
    if done:
        last = events.order_by("-seq").first()
        ShipmentEvent.objects.filter(pk=last.pk).update(created_at=done)


@pytest.fixture
def fixture(shipment_in, paid, dan):
    s1 = shipment_in(Status.DELIVERED)
    stamp(
        s1,
        created=at("03-02T09:00"),
        picked=at("03-02T10:00"),
        done=at("03-02T10:30"),
        delivery_window_end=at("03-02T11:00"),
        price=Decimal("10.00"),
        payment_state=PaymentState.ON_DELIVERY,
        predicted_arrival=at("03-02T10:20"),
        actual_arrival=at("03-02T10:30"),
    )
    s2 = shipment_in(Status.DELIVERED)
    stamp(
        s2,
        created=at("03-02T12:00"),
        picked=at("03-02T13:00"),
        done=at("03-02T14:00"),
        delivery_window_end=at("03-02T13:30"),
        price=Decimal("20.00"),
        payment_state=PaymentState.CAPTURED,
        predicted_arrival=at("03-02T14:30"),
        actual_arrival=at("03-02T14:00"),
    )
    s3 = shipment_in(Status.DELIVERED)
    stamp(
        s3,
        created=at("03-03T08:00"),
        picked=at("03-03T08:30"),
        done=at("03-03T10:00"),
        delivery_window_end=at("03-03T12:00"),
        price=Decimal("30.00"),
        payment_state=PaymentState.ON_DELIVERY,
    )
    s4 = shipment_in(Status.CANCELLED)
    stamp(
        s4,
        created=at("03-03T11:00"),
        price=Decimal("15.00"),
        payment_state=PaymentState.REFUNDED,
    )
    s5 = shipment_in(Status.FAILED_ATTEMPT)
    stamp(
        s5,
        created=at("03-04T13:00"),
        picked=at("03-04T14:00"),
        done=at("03-04T15:00"),
        price=Decimal("9.00"),
    )
    s6 = paid()
    stamp(
        s6,
        created=at("03-04T16:00"),
        price=Decimal("12.00"),
        payment_state=PaymentState.AUTHORIZED,
    )
    s7 = shipment_in(Status.DELIVERED)
    stamp(
        s7,
        created=at("02-20T09:00"),
        picked=at("02-20T10:00"),
        done=at("02-20T11:00"),
        price=Decimal("99.00"),
        payment_state=PaymentState.CAPTURED,
        predicted_arrival=at("02-20T09:00"),
        actual_arrival=at("02-20T11:00"),
    )
    LocationFix.objects.create(
        driver=dan,
        client_id="3c7b1a52-1d1e-4c55-9f3e-2a9a3c1b0f00",
        device_time=at("03-03T07:30"),
        received_at=at("03-03T07:30"),
        lat=51.05,
        lng=3.72,
        accuracy_m=5,
    )
    return [s1, s2, s3, s4, s5, s6, s7]


def test_shipments_per_day_by_status(fixture):
    section = analytics.shipments_per_day(period=RANGE)
    assert section.columns == [
        "day",
        "Pending review",
        "Delivered",
        "Failed attempt",
        "Cancelled",
        "total",
    ]
    assert section.rows == [
        ["2026-03-02", 0, 2, 0, 0, 2],
        ["2026-03-03", 0, 1, 0, 1, 2],
        ["2026-03-04", 1, 0, 1, 0, 2],
    ]
    assert section.summary == {"total": 6}


def test_on_time_rate_against_the_window(fixture):
    section = analytics.on_time_rate(period=RANGE)
    assert section.rows == [[3, 2, 1, 66.7]]


def test_pickup_to_delivery_percentiles(fixture):
    section = analytics.pickup_to_delivery(period=RANGE)
    assert section.rows == [[3, 60.0, 84.0]]


def test_revenue_captured_and_refunded(fixture):
    section = analytics.revenue(period=RANGE)
    assert section.rows == [
        ["2026-03-02", Decimal("30.00"), Decimal("0.00")],
        ["2026-03-03", Decimal("30.00"), Decimal("15.00")],
        ["2026-03-04", Decimal("0.00"), Decimal("0.00")],
    ]
    assert section.summary == {"captured": Decimal("60.00"), "refunded": Decimal("15.00")}


def test_failed_attempt_reasons(fixture):
    assert analytics.failed_attempt_reasons(period=RANGE).rows == [["Recipient not home", 1]]


def test_driver_utilisation(fixture, dan):
    section = analytics.driver_utilisation(period=RANGE)
    assert section.rows == [[str(dan), 7.5, 3.0, 40.0, 3, 0.4]]


def test_eta_accuracy(fixture):
    assert analytics.eta_accuracy(period=RANGE).rows == [[2, 20.0, 28.0]]


def test_an_empty_range_has_zeros_and_no_percentiles(fixture):
    sections = {s.key: s for s in analytics.analytics_report(period=EMPTY)}
    assert [r[-1] for r in sections["per_day"].rows] == [0, 0, 0]
    assert sections["on_time"].rows == [[0, 0, 0, None]]
    assert sections["pickup_to_delivery"].rows == [[0, None, None]]
    assert sections["revenue"].summary == {"captured": 0, "refunded": 0}
    assert sections["failed_reasons"].rows == []
    assert sections["drivers"].rows == []
    assert sections["eta"].rows == [[0, None, None]]


def test_a_single_value_is_its_own_percentile(fixture):
    one_day = Period(start=date(2026, 3, 3), end=date(2026, 3, 3))
    assert analytics.pickup_to_delivery(period=one_day).rows == [[1, 90.0, 90.0]]


def test_analytics_page_and_csv_for_staff(fixture, as_user, dora):
    client = as_user(dora)
    page = client.get(reverse("staff-analytics"), {"start": "2026-03-02", "end": "2026-03-04"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="chart-per_day"' in html and "Recipient not home" in html
    assert "<td>66.7</td>" in html
    response = client.get(
        reverse("staff-analytics-csv", args=["revenue"]),
        {"start": "2026-03-02", "end": "2026-03-04"},
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["day", "captured", "refunded"],
        ["2026-03-02", "30.00", "0.00"],
        ["2026-03-03", "30.00", "15.00"],
        ["2026-03-04", "0.00", "0.00"],
    ]
    eta = client.get(
        reverse("staff-analytics-csv", args=["eta"]), {"start": "2025-01-01", "end": "2025-01-03"}
    )
    assert list(csv.reader(io.StringIO(eta.content.decode())))[1] == ["0", "", ""]
    assert client.get(reverse("staff-analytics-csv", args=["nope"])).status_code == 404


def test_analytics_range_is_validated(as_user, dora):
    client = as_user(dora)
    page = client.get(reverse("staff-analytics"), {"start": "2026-03-04", "end": "2026-03-01"})
    assert page.status_code == 200
    assert "The end date is before the start date." in page.content.decode()
    page = client.get(reverse("staff-analytics"), {"start": "2020-01-01", "end": "2026-03-01"})
    assert "Choose at most 366 days." in page.content.decode()
    default = client.get(reverse("staff-analytics"))
    assert default.context["period"].end - default.context["period"].start == timedelta(days=29)


@pytest.mark.parametrize("who", ["alice", "dan"])
def test_analytics_is_not_found_for_customers_and_drivers(who, as_user, request):
    persona = request.getfixturevalue(who)
    client = as_user(getattr(persona, "user", persona))
    assert client.get(reverse("staff-analytics")).status_code == 404
    assert client.get(reverse("staff-analytics-csv", args=["revenue"])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_report_fetched_side_by_side_matches_one_by_one(fixture):
    """On PostgreSQL outside a transaction the queries run on parallel connections."""
    side_by_side = analytics.analytics_report(period=RANGE)
    one_by_one = [section(period=RANGE) for section in analytics.SECTIONS.values()]
    assert [s.rows for s in side_by_side] == [s.rows for s in one_by_one]
    assert side_by_side[2].rows == [[3, 60.0, 84.0]]
