"""Staff alerts from the periodic checks: late shipments, silent on-duty drivers, notifications
that failed for good; each once per situation. And the startup check on Redis eviction."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import checks, monitoring
from notifications.models import Notification
from shipments.lifecycle import Status

Q = Notification.Status


def alerts(user, event_key):
    return Notification.objects.filter(recipient=user, event_key=event_key)


def test_shipment_past_its_delivery_window_alerts_staff_once(shipment_in, dora, ada):
    start = timezone.now() - timedelta(hours=5)
    late = shipment_in(
        Status.IN_TRANSIT,
        pickup_window_start=start,
        pickup_window_end=start + timedelta(hours=1),
        delivery_window_start=start + timedelta(hours=1),
        delivery_window_end=start + timedelta(hours=2),
    )
    on_time = shipment_in(Status.IN_TRANSIT)
    assert monitoring.check_late_shipments() == 1
    assert monitoring.check_late_shipments() == 1
    [alert] = alerts(dora, "shipment_late")
    assert alert.shipment == late
    assert late.tracking_number in alert.subject
    assert "delivery window ended" in alert.body
    assert alerts(ada, "shipment_late").count() == 1
    assert not Notification.objects.filter(event_key="shipment_late", shipment=on_time).exists()


def test_delivered_shipments_are_never_late(shipment_in, dora):
    start = timezone.now() - timedelta(hours=5)
    shipment_in(
        Status.DELIVERED,
        pickup_window_start=start,
        pickup_window_end=start + timedelta(hours=1),
        delivery_window_start=start + timedelta(hours=1),
        delivery_window_end=start + timedelta(hours=2),
    )
    assert monitoring.check_late_shipments() == 0


def test_on_duty_driver_without_fixes_alerts_staff_once_per_silence(dan, erin, dora, settings):
    settings.NOTIFY_DRIVER_SILENT_MINUTES = 10
    now = timezone.now()
    dan.last_fix_at = now - timedelta(minutes=25)
    dan.save()
    erin.last_fix_at = now - timedelta(minutes=2)
    erin.save()
    assert monitoring.check_silent_drivers(now=now) == 1
    monitoring.check_silent_drivers(now=now + timedelta(minutes=1))
    [alert] = alerts(dora, "driver_silent")
    assert "Dan" in alert.subject and "25 min" in alert.subject
    # A new fix, then silence again: a new alert.
    dan.last_fix_at = now + timedelta(minutes=5)
    dan.save()
    monitoring.check_silent_drivers(now=now + timedelta(minutes=30))
    assert alerts(dora, "driver_silent").filter(subject__contains="Dan").count() == 2
    # Off duty: nothing.
    dan.on_duty = erin.on_duty = False
    dan.save()
    erin.save()
    assert monitoring.check_silent_drivers(now=now + timedelta(hours=3)) == 0


def test_failed_notifications_are_reported_to_staff_once(alice, dora):
    for i in range(2):
        Notification.objects.create(
            recipient=alice,
            channel="sms",
            event_key="picked_up",
            idempotency_key=f"f{i}",
            status=Q.FAILED,
            last_error="HTTP 500",
            to_address="+32470000000",
        )
    assert monitoring.check_failed_notifications() == 2
    assert monitoring.check_failed_notifications() == 0
    [alert] = alerts(dora, "notification_failed")
    assert "2 notifications failed" in alert.subject
    assert alert.body.count("HTTP 500") == 2
    # A staff alert that fails is not itself reported (no loops).
    Notification.objects.filter(pk=alert.pk).update(status=Q.FAILED)
    assert monitoring.check_failed_notifications() == 0


def test_paid_order_alert_is_event_driven(shipment_in, dora):
    shipment = shipment_in(Status.PENDING_REVIEW)
    [alert] = alerts(dora, "order_needs_review")
    assert shipment.tracking_number in alert.subject


@pytest.mark.services
def test_startup_check_warns_when_redis_may_evict(settings):
    from tests.realservices import start_redis_server

    proc, url = start_redis_server()
    try:
        import redis

        client = redis.Redis.from_url(url)
        assert checks.redis_eviction_warnings(url) == []
        client.config_set("maxmemory-policy", "allkeys-lru")
        [warning] = checks.redis_eviction_warnings(url)
        assert warning.id == "notifications.W001" and "allkeys-lru" in warning.msg
        settings.REDIS_URL = url
        assert [w.id for w in checks.redis_eviction_check()] == ["notifications.W001"]
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    [unreachable] = checks.redis_eviction_warnings(url)
    assert unreachable.id == "notifications.W002"


def test_startup_check_is_silent_without_redis(settings):
    settings.REDIS_URL = ""
    assert checks.redis_eviction_check() == []
