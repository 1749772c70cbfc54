"""ETA arithmetic (pure functions), the ETA a fix stores and pushes, "driver is nearby" firing
once, arrival times, and the retention purge."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.tracking.conftest import fix_at
from tracking import eta, selectors, services
from tracking.models import LocationFix
from tracking.services import fixes_ingest

NOW = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
# Two points 1.000 km apart along a meridian (1 km = 0.0089932° of latitude).
A = (51.0, 3.7)
B = (51.0 + 0.0089932, 3.7)
C = (51.0 + 2 * 0.0089932, 3.7)


def test_eta_is_distance_times_road_factor_over_speed_plus_service_per_stop():
    direct = eta.eta_seconds(
        start=A, stops_before=[], destination=B, speed_mps=10, road_factor=1.5, service_s=300
    )
    assert direct == pytest.approx(150, abs=0.5)  # 1 km × 1.5 / 10 m/s
    via = eta.eta_seconds(
        start=A, stops_before=[B], destination=C, speed_mps=10, road_factor=1.5, service_s=300
    )
    assert via == pytest.approx(300 + 300, abs=1)  # 2 km of driving and one stop on the way


def test_learned_speed_follows_recent_fixes_within_bounds():
    speed = None
    for observed in (10, 10, 10):
        speed = eta.speed_learn(previous=speed, observed=observed)
    assert speed == 10
    assert eta.speed_learn(previous=10, observed=20) == pytest.approx(12)
    # Standing at a door teaches nothing.
    assert eta.speed_learn(previous=10, observed=0) == 10
    assert eta.speed_learn(previous=None, observed=13, start=8) == pytest.approx(9)
    bounds = {"default": 8, "low": 3, "high": 20}
    assert eta.speed_for_eta(learned=None, **bounds) == 8
    assert eta.speed_for_eta(learned=0.5, **bounds) == 3
    assert eta.speed_for_eta(learned=55, **bounds) == 20


def test_window_widens_with_distance_and_has_a_floor():
    short = eta.eta_window(now=NOW, seconds=60)
    assert short.at == NOW + timedelta(seconds=60)
    assert short.latest - short.earliest == timedelta(minutes=4)  # ±2 min floor
    long = eta.eta_window(now=NOW, seconds=3600)
    assert long.latest - long.at == timedelta(minutes=12)  # ±20 %


def test_eta_moves_only_by_a_minute_or_more():
    assert eta.eta_moved(previous=None, current=NOW)
    assert not eta.eta_moved(previous=NOW, current=NOW + timedelta(seconds=59))
    assert eta.eta_moved(previous=NOW, current=NOW - timedelta(seconds=60))


def test_stale_fix_hides_eta():
    assert not eta.fix_is_stale(fix_time=NOW, now=NOW + timedelta(seconds=60), max_age_s=180)
    assert eta.fix_is_stale(fix_time=NOW, now=NOW + timedelta(seconds=181), max_age_s=180)
    assert eta.fix_is_stale(fix_time=None, now=NOW, max_age_s=180)


def test_stops_without_a_plan_are_visited_nearest_first():
    assert eta.order_stops(start=A, stops=[(3, C), (2, B)]) == [2, 3]


def test_implied_speed_gives_accuracy_the_benefit_of_the_doubt():
    one_km_in_10s = eta.implied_speed_mps(
        a=A, a_time=NOW, a_accuracy=0, b=B, b_time=NOW + timedelta(seconds=10), b_accuracy=0
    )
    assert one_km_in_10s == pytest.approx(100, rel=0.01)
    blurry = eta.implied_speed_mps(
        a=A, a_time=NOW, a_accuracy=5000, b=B, b_time=NOW + timedelta(seconds=10), b_accuracy=5000
    )
    assert blurry == pytest.approx(80, rel=0.01)  # slack capped at 100 m each


# --- with the database -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_fix_stores_predicted_arrival_and_pushes_eta_only_when_it_moves(shipment_in, dan):
    shipment = shipment_in(Status.OUT_FOR_DELIVERY)
    far = (shipment.dropoff_lat - 0.02, shipment.dropoff_lng)
    fixes_ingest(driver=dan, fixes=[fix_at(*far, seconds_ago=300, speed_mps=8)])
    shipment.refresh_from_db()
    first = shipment.predicted_arrival
    assert first is not None
    assert selectors.shipment_eta(shipment=shipment) is None  # that fix is already stale
    # A few metres on, seconds later: the ETA barely moves and nothing is pushed or stored.
    pushed = []
    from tracking import broadcast

    original = broadcast.eta_push
    broadcast.eta_push = lambda **kw: pushed.append(kw)
    try:
        fixes_ingest(
            driver=dan, fixes=[fix_at(far[0] + 0.0001, far[1], seconds_ago=295, speed_mps=8)]
        )
        shipment.refresh_from_db()
        assert shipment.predicted_arrival == first and pushed == []
        # Much closer: the ETA moves by minutes and is pushed.
        fixes_ingest(driver=dan, fixes=[fix_at(far[0] + 0.015, far[1], seconds_ago=0, speed_mps=8)])
    finally:
        broadcast.eta_push = original
    shipment.refresh_from_db()
    assert shipment.predicted_arrival < first - timedelta(minutes=1)
    assert [p["tracking_number"] for p in pushed] == [shipment.tracking_number]
    shown = selectors.shipment_eta(shipment=shipment)
    assert 0 < shown["seconds"] < 300 and shown["earliest"] < shown["at"] < shown["latest"]


@pytest.mark.django_db(transaction=True)
def test_driver_nearby_fires_once_per_shipment(shipment_in, dan, monkeypatch):
    import notifications.services

    calls = []
    monkeypatch.setattr(
        notifications.services,
        "notify_shipment",
        lambda **kw: calls.append((kw["event_key"], kw["shipment"].pk)) or [],
    )
    shipment = shipment_in(Status.OUT_FOR_DELIVERY)
    drop = (shipment.dropoff_lat, shipment.dropoff_lng)
    fixes_ingest(driver=dan, fixes=[fix_at(drop[0] - 0.01, drop[1], seconds_ago=120)])
    assert calls == []  # 1.1 km away
    fixes_ingest(driver=dan, fixes=[fix_at(drop[0] - 0.0009, drop[1], seconds_ago=60)])
    fixes_ingest(driver=dan, fixes=[fix_at(drop[0] - 0.0005, drop[1], seconds_ago=30)])
    assert calls == [("driver_nearby", shipment.pk)]
    shipment.refresh_from_db()
    assert shipment.nearby_notified_at is not None
    assert services.shipment_nearby_trigger(shipment=shipment) is False


@pytest.mark.django_db
def test_nearby_does_not_fire_before_out_for_delivery(shipment_in, dan):
    shipment = shipment_in(Status.IN_TRANSIT)
    with_commit = fixes_ingest(
        driver=dan, fixes=[fix_at(shipment.dropoff_lat, shipment.dropoff_lng)]
    )
    assert with_commit[0]["status"] == "accepted"
    shipment.refresh_from_db()
    assert shipment.nearby_notified_at is None


@pytest.mark.django_db
def test_actual_arrival_is_recorded_once(shipment_in):
    shipment = shipment_in(Status.OUT_FOR_DELIVERY)
    assert services.shipment_record_arrival(shipment=shipment) is True
    first = Shipment.objects.get(pk=shipment.pk).actual_arrival
    assert services.shipment_record_arrival(shipment=shipment) is False
    assert Shipment.objects.get(pk=shipment.pk).actual_arrival == first


@pytest.mark.django_db
def test_retention_purge_deletes_only_old_history(dan, settings):
    settings.TRACKING_RETENTION_DAYS = 30
    now = timezone.now()

    def row(days_ago: float) -> LocationFix:
        import uuid

        return LocationFix.objects.create(
            driver=dan,
            client_id=uuid.uuid4(),
            device_time=now - timedelta(days=days_ago),
            received_at=now - timedelta(days=days_ago),
            lat=51,
            lng=3.7,
            accuracy_m=5,
        )

    old, recent = row(31), row(29)
    from tracking.tasks import fixes_purge_old

    assert fixes_purge_old.apply().get() == 1  # the task body, run here
    assert list(LocationFix.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not LocationFix.objects.filter(pk=old.pk).exists()


def test_purge_is_scheduled(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["tracking-purge-fixes"]
    assert entry["task"] == "tracking.tasks.fixes_purge_old"
