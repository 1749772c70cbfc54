"""Driver services: duty, answering offers, the status buttons, the delivered guard and the
handover PIN, each through the lifecycle service."""

from decimal import Decimal

import pytest
from django.test import override_settings

from drivers import selectors, services
from dropmate.lib.exceptions import Invalid, InvalidTransition, NotAllowed, NotFound
from shipments.handover import handover_pin_verify
from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent
from tests.driver.conftest import jpeg_bytes


def test_going_off_duty_clears_since_and_on_duty_sets_it(dan):
    services.driver_duty_set(driver=dan, on_duty=False)
    dan.refresh_from_db()
    assert dan.on_duty is False and dan.on_duty_since is None
    services.driver_duty_set(driver=dan, on_duty=True)
    dan.refresh_from_db()
    assert dan.on_duty is True and dan.on_duty_since is not None


def test_accepting_an_offer_notes_it_once_and_keeps_the_status(job, dan):
    shipment = job(Status.ASSIGNED)
    services.driver_job_accept(driver=dan, shipment=shipment)
    services.driver_job_accept(driver=dan, shipment=shipment)
    shipment.refresh_from_db()
    assert shipment.status == Status.ASSIGNED
    notes = shipment.events.filter(kind=ShipmentEvent.Kind.NOTE)
    assert notes.count() == 1
    assert services.job_accepted_by_driver(shipment=shipment)


def test_declining_sends_the_job_back_to_the_queue_with_the_reason(job, dan):
    shipment = job(Status.ASSIGNED)
    moved = services.driver_job_decline(driver=dan, shipment=shipment, reason="no_capacity")
    assert moved.status == Status.ACCEPTED and moved.driver is None
    event = moved.events.order_by("-seq").first()
    assert "No room in my vehicle" in event.note
    assert event.data["previous_driver_id"] == dan.pk


def test_declining_needs_a_known_reason_and_a_note_for_other(job, dan):
    shipment = job(Status.ASSIGNED)
    with pytest.raises(Invalid):
        services.driver_job_decline(driver=dan, shipment=shipment, reason="")
    with pytest.raises(Invalid):
        services.driver_job_decline(driver=dan, shipment=shipment, reason="other", note=" ")
    shipment.refresh_from_db()
    assert shipment.status == Status.ASSIGNED


def test_another_driver_cannot_move_or_decline_dans_job(job, erin):
    shipment = job(Status.ASSIGNED)
    with pytest.raises(NotFound):
        services.driver_job_move(driver=erin, shipment=shipment, to=Status.PICKED_UP)
    with pytest.raises(NotFound):
        services.driver_job_decline(driver=erin, shipment=shipment, reason="too_far")
    with pytest.raises(NotFound):
        services.driver_job_accept(driver=erin, shipment=shipment)


def test_failed_attempt_records_the_reason_and_note(job, dan):
    shipment = job(Status.OUT_FOR_DELIVERY)
    with pytest.raises(Invalid):
        services.driver_job_move(driver=dan, shipment=shipment, to=Status.FAILED_ATTEMPT)
    moved = services.driver_job_move(
        driver=dan, shipment=shipment, to=Status.FAILED_ATTEMPT, reason="refused", note="Angry"
    )
    assert moved.status == Status.FAILED_ATTEMPT
    assert moved.events.order_by("-seq").first().note.startswith("refused: Refused")


def test_delivery_sets_actual_arrival(job, dan):
    shipment = job(Status.OUT_FOR_DELIVERY)
    moved = services.driver_job_move(driver=dan, shipment=shipment, to=Status.DELIVERED)
    assert Shipment.objects.get(pk=moved.pk).actual_arrival is not None


@override_settings(POD_REQUIRED_SERVICE_LEVELS=["same_day"], POD_REQUIRED_MIN_DECLARED_VALUE=250)
@pytest.mark.parametrize(
    "fields",
    [{"service_level": "same_day"}, {"declared_value": Decimal("300.00")}],
    ids=["service-level", "declared-value"],
)
def test_delivered_is_refused_without_pod_where_required(job, dan, fields, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    shipment = job(Status.OUT_FOR_DELIVERY, **fields)
    with pytest.raises(Invalid, match="proof of delivery"):
        services.driver_job_move(driver=dan, shipment=shipment, to=Status.DELIVERED)
    assert Shipment.objects.get(pk=shipment.pk).status == Status.OUT_FOR_DELIVERY
    moved = services.driver_job_deliver(
        driver=dan, shipment=shipment, photo=jpeg_bytes(), recipient_name="Dee"
    )
    assert moved.status == Status.DELIVERED
    assert moved.pod.recipient_name == "Dee"


def test_flagged_shipment_needs_pod(job, dan):
    shipment = job(Status.OUT_FOR_DELIVERY)
    Shipment.objects.filter(pk=shipment.pk).update(requires_pod=True)
    shipment.refresh_from_db()
    with pytest.raises(Invalid):
        services.driver_job_move(driver=dan, shipment=shipment, to=Status.DELIVERED)


def test_accepting_a_valuable_parcel_issues_a_hashed_pin(pin_job):
    shipment, pin = pin_job()
    assert len(pin) == 6 and pin.isdigit()
    assert shipment.handover_pin_hash and pin not in shipment.handover_pin_hash


def test_cheap_parcels_get_no_pin(job):
    assert job(Status.ASSIGNED).handover_pin_hash == ""


def test_right_pin_delivers(pin_job, dan, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    shipment, pin = pin_job()
    moved = services.driver_job_deliver(
        driver=dan, shipment=shipment, photo=jpeg_bytes(), handover_pin=pin
    )
    assert moved.status == Status.DELIVERED
    assert pin not in str(list(moved.events.values_list("note", "data")))


def test_wrong_pin_is_refused_and_counted(pin_job, dan):
    shipment, pin = pin_job()
    wrong = "000000" if pin != "000000" else "111111"
    with pytest.raises(Invalid, match="Wrong PIN"):
        services.driver_job_move(
            driver=dan, shipment=shipment, to=Status.DELIVERED, handover_pin=wrong
        )
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.OUT_FOR_DELIVERY and fresh.pin_failures == 1


def test_the_lifecycle_itself_refuses_delivery_without_the_pin(pin_job, dan):
    from shipments.services import shipment_transition

    shipment, _pin = pin_job()
    with pytest.raises(Invalid, match="handover PIN"):
        shipment_transition(shipment=shipment, to=Status.DELIVERED, actor=dan.user)


@override_settings(HANDOVER_PIN_MAX_FAILURES=3)
def test_repeated_wrong_pins_lock_the_job_and_alert_staff(pin_job, dan, monkeypatch):
    import notifications.services as notifications

    alerts = []
    monkeypatch.setattr(notifications, "notify_staff", lambda **kw: alerts.append(kw) or [])
    shipment, pin = pin_job()
    wrong = "000000" if pin != "000000" else "111111"
    for _ in range(2):
        with pytest.raises(Invalid):
            handover_pin_verify(shipment=shipment, pin=wrong)
    with pytest.raises(NotAllowed, match="locked"):
        handover_pin_verify(shipment=shipment, pin=wrong)
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.pin_locked and fresh.pin_failures == 3
    assert [a["event_key"] for a in alerts] == ["pin_locked"]
    assert alerts[0]["shipment"].pk == shipment.pk
    # Even the right PIN is refused now.
    with pytest.raises(NotAllowed):
        services.driver_job_move(driver=dan, shipment=fresh, to=Status.DELIVERED, handover_pin=pin)


def test_jobs_today_lists_open_jobs_by_next_window_then_done(job, dan, erin, alice, dora):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import make_shipment

    soon = timezone.now() + timedelta(hours=1)
    later_pickup = job(
        Status.ASSIGNED,
        pickup_window_start=soon + timedelta(hours=3),
        pickup_window_end=soon + timedelta(hours=4),
    )
    early_drop = job(
        Status.IN_TRANSIT, delivery_window_start=soon, delivery_window_end=soon + timedelta(hours=1)
    )
    done = job(Status.DELIVERED)
    make_shipment(customer=alice, status=Status.ASSIGNED, driver=erin, staff=dora)
    jobs = selectors.driver_jobs_today(driver=dan)
    assert [j.pk for j in jobs] == [early_drop.pk, later_pickup.pk, done.pk]
    assert [j.is_open for j in jobs] == [True, True, False]


def test_job_get_is_scoped_to_the_driver(job, erin, dan):
    shipment = job(Status.ASSIGNED)
    assert selectors.driver_job_get(driver=dan, tracking_number=shipment.tracking_number)
    with pytest.raises(NotFound):
        selectors.driver_job_get(driver=erin, tracking_number=shipment.tracking_number)


def test_moving_from_a_wrong_state_is_refused(job, dan):
    shipment = job(Status.ASSIGNED)
    with pytest.raises(InvalidTransition):
        services.driver_job_move(driver=dan, shipment=shipment, to=Status.DELIVERED)
