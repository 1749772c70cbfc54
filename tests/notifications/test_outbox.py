"""The outbox: rows written in the event's transaction (a rollback leaves none and sends
nothing), one row per event, recipient and channel, preferences, quiet hours and fallback."""

import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from notifications import delivery, services
from notifications.models import Notification
from notifications.rendering import sms_segments, tracking_url
from notifications.transports import PermanentTransportError, TransportError
from shipments import services as shipment_services
from shipments.lifecycle import Status
from shipments.models import PaymentState, Shipment
from tests.notifications.conftest import RecordingSms

Q = Notification.Status


def rows_for(user, **filters):
    return Notification.objects.filter(recipient=user, **filters)


def test_paid_order_tells_the_customer_and_every_dispatcher(shipment_in, alice, dora, ada):
    shipment = shipment_in(Status.PENDING_REVIEW)
    booked = rows_for(alice, event_key="booking_received").get()
    assert booked.channel == "email" and booked.to_address == "alice@example.com"
    assert shipment.tracking_number in booked.subject
    assert tracking_url(shipment.tracking_number) in booked.body
    for staff in (dora, ada):
        alert = rows_for(staff, event_key="order_needs_review").get()
        assert alert.urgent and alert.shipment_id == shipment.pk


def test_rolled_back_transition_leaves_no_row_and_sends_nothing(
    shipment_in, dora, alice, django_capture_on_commit_callbacks
):
    shipment = shipment_in(Status.PENDING_REVIEW)
    before = Notification.objects.count()

    class Boom(Exception):
        pass

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        shipment_services.shipment_accept(shipment=shipment, actor=dora)
        assert rows_for(alice, event_key="accepted").exists()
        raise Boom

    assert Notification.objects.count() == before
    assert callbacks == []


@pytest.mark.django_db(transaction=True)
def test_committed_transition_sends_once_after_commit(eager, alice, dan, dora):
    from tests.factories import make_shipment

    shipment = make_shipment(customer=alice, status=Status.PENDING_REVIEW, driver=dan, staff=dora)
    mail.outbox.clear()
    shipment_services.shipment_accept(shipment=shipment, actor=dora)

    row = rows_for(alice, event_key="accepted").get()
    assert row.status == Q.SENT and row.attempts == 1 and row.provider_id
    sent = [m for m in mail.outbox if m.to == ["alice@example.com"]]
    assert len(sent) == 1
    assert sent[0].subject == row.subject
    assert sent[0].alternatives[0].mimetype == "text/html"


def test_same_event_twice_writes_one_row_per_key(shipment_in, alice):
    shipment = shipment_in(Status.ACCEPTED)
    event = shipment.events.order_by("-seq").first()
    first = services.notifications_for_shipment_event(shipment=shipment, event=event)
    second = services.notifications_for_shipment_event(shipment=shipment, event=event)
    assert [r.pk for r in first] == [r.pk for r in second]
    assert rows_for(alice, event_key="accepted").count() == 1
    assert first[0].idempotency_key == f"ev{event.pk}:accepted:u{alice.pk}:email"


def test_racing_writers_of_one_key_end_with_one_row(alice):
    # The unique key is the last line of defence: a second insert returns the first row.
    first = services.notification_write(
        event_key="eta_updated", recipient=alice, audience="customer", scope="race"
    )
    duplicate = Notification(
        recipient=alice,
        channel="email",
        event_key="eta_updated",
        idempotency_key=first.idempotency_key,
    )
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    assert Notification.objects.filter(idempotency_key=first.idempotency_key).count() == 1


def test_lifecycle_messages_reach_customer_and_drivers(shipment_in, alice, dan, erin, dora):
    shipment = shipment_in(Status.ASSIGNED)
    assert rows_for(dan.user, event_key="job_assigned").count() == 1
    assert rows_for(alice, event_key="driver_assigned").count() == 1

    shipment_services.shipment_assign(shipment=shipment, actor=dora, driver=erin)
    assert rows_for(dan.user, event_key="job_removed").count() == 1
    assert rows_for(erin.user, event_key="job_assigned").count() == 1

    shipment_services.shipment_cancel(shipment=Shipment.objects.get(pk=shipment.pk), actor=alice)
    assert rows_for(erin.user, event_key="job_cancelled").count() == 1
    assert rows_for(alice, event_key="cancelled").count() == 1


def test_driver_declining_is_not_told_about_it(shipment_in, dan):
    shipment = shipment_in(Status.ASSIGNED)
    shipment_services.shipment_transition(
        shipment=shipment, to=Status.ACCEPTED, actor=dan.user, reason="Van broke down"
    )
    assert not rows_for(dan.user, event_key="job_removed").exists()


def test_rejection_gives_the_reason_and_the_released_authorisation(shipment_in, alice, dora):
    shipment = shipment_in(Status.PENDING_REVIEW)
    Shipment.objects.filter(pk=shipment.pk).update(payment_state=PaymentState.AUTHORIZED)
    shipment_services.shipment_reject(shipment=shipment, actor=dora, reason="Too heavy for us")
    row = rows_for(alice, event_key="rejected").get()
    assert "Too heavy for us" in row.body
    assert "authorisation has been released" in row.body


def test_delivered_links_to_the_proof_of_delivery(shipment_in, alice, settings):
    alice.notify_email, alice.notify_sms = False, True
    alice.save()
    shipment = shipment_in(Status.DELIVERED)
    row = rows_for(alice, event_key="delivered").get()
    assert row.channel == "sms"
    # The proof is on the customer's own shipment page, not on the public tracking page.
    pod = reverse("customer-shipment", kwargs={"tracking": shipment.tracking_number})
    assert row.body.endswith(settings.DROPMATE_BASE_URL + pod)
    assert sms_segments(row.body) <= 2


def test_failed_attempt_names_the_reason(shipment_in, alice):
    shipment_in(Status.FAILED_ATTEMPT)
    row = rows_for(alice, event_key="failed_attempt").get()
    assert "Recipient not home" in row.body


# --- Preferences --------------------------------------------------------------------------------


def test_opted_out_channels_get_nothing(shipment_in, alice):
    alice.notify_email = alice.notify_sms = False
    alice.save()
    shipment_in(Status.ACCEPTED)
    assert not rows_for(alice).exists()


def test_sms_only_customer_gets_sms_with_the_tracking_link(shipment_in, alice):
    alice.notify_email, alice.notify_sms = False, True
    alice.save()
    shipment = shipment_in(Status.ACCEPTED)
    row = rows_for(alice, event_key="accepted").get()
    assert row.channel == "sms" and row.to_address == alice.phone
    assert row.body.endswith(tracking_url(shipment.tracking_number))


def test_urgent_events_prefer_sms_and_others_email_when_both_are_allowed(shipment_in, alice):
    alice.notify_sms = True
    alice.save()
    shipment_in(Status.OUT_FOR_DELIVERY)
    assert rows_for(alice, event_key="picked_up").get().channel == "email"
    assert rows_for(alice, event_key="out_for_delivery").get().channel == "sms"


def test_sms_without_a_phone_number_is_not_attempted(shipment_in, alice):
    alice.notify_email, alice.notify_sms, alice.phone = False, True, ""
    alice.save()
    shipment_in(Status.ACCEPTED)
    assert not rows_for(alice).exists()


# --- Quiet hours --------------------------------------------------------------------------------


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "ends"),
    [
        (at(22, 30), datetime(2026, 3, 11, 8, 0, tzinfo=UTC)),
        (at(3, 0), at(8, 0)),
        (at(21, 0), datetime(2026, 3, 11, 8, 0, tzinfo=UTC)),
        (at(8, 0), None),
        (at(12, 0), None),
    ],
)
def test_quiet_hours_window(settings, now, ends):
    settings.NOTIFY_QUIET_HOURS = "21:00-08:00"
    settings.NOTIFY_QUIET_HOURS_TIME_ZONE = "UTC"
    assert services.quiet_hours_end(now=now) == ends


def test_non_urgent_customer_message_is_held_in_quiet_hours(settings, alice, dora):
    settings.NOTIFY_QUIET_HOURS = "21:00-08:00"
    held = services.notification_write(
        event_key="picked_up", recipient=alice, audience="customer", scope="q1", now=at(23)
    )
    urgent = services.notification_write(
        event_key="driver_nearby", recipient=alice, audience="customer", scope="q1", now=at(23)
    )
    staff = services.notification_write(
        event_key="shipment_late", recipient=dora, audience="staff", scope="q1", now=at(23)
    )
    assert (held.status, held.send_after) == (Q.HELD, datetime(2026, 3, 11, 8, tzinfo=UTC))
    assert urgent.status == Q.QUEUED and urgent.send_after is None
    assert staff.status == Q.QUEUED


def test_held_message_is_sent_after_quiet_hours_by_the_sweep(settings, eager, alice):
    from notifications.delivery import notifications_sweep

    settings.NOTIFY_QUIET_HOURS = "21:00-08:00"
    held = services.notification_write(
        event_key="picked_up", recipient=alice, audience="customer", scope="q2", now=at(23)
    )
    mail.outbox.clear()
    # Quiet hours not over yet: nothing moves.
    Notification.objects.filter(pk=held.pk).update(send_after=datetime(2999, 1, 1, tzinfo=UTC))
    assert notifications_sweep()["released"] == 0
    assert mail.outbox == []
    # Over: released and sent.
    Notification.objects.filter(pk=held.pk).update(send_after=at(8))
    assert notifications_sweep()["released"] == 1
    held.refresh_from_db()
    assert held.status == Q.SENT
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


# --- Fallback -----------------------------------------------------------------------------------


def test_sms_failing_for_good_falls_back_to_email(
    settings, eager, sms_outbox, alice, shipment_in, django_capture_on_commit_callbacks
):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    alice.notify_sms = True
    alice.save()
    RecordingSms.fail_with = TransportError("HTTP 503: provider down")
    shipment = shipment_in(Status.PICKED_UP)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.notify_shipment(event_key="driver_nearby", shipment=shipment)

    sms_row = rows_for(alice, event_key="driver_nearby", channel="sms").get()
    assert (sms_row.status, sms_row.attempts) == (Q.FAILED, 3)
    assert "HTTP 503" in sms_row.last_error
    email_row = rows_for(alice, event_key="driver_nearby", channel="email").get()
    assert email_row.fallback_of_id == sms_row.pk and email_row.status == Q.SENT
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_fallback_gives_the_same_times_as_the_message_it_replaces(sms_outbox, alice, shipment_in):
    alice.notify_sms = True
    alice.save()
    shipment = shipment_in(Status.OUT_FOR_DELIVERY)
    [sms_row] = services.notify_shipment(
        event_key="eta_updated", shipment=Shipment.objects.get(pk=shipment.pk)
    )
    RecordingSms.fail_with = PermanentTransportError("HTTP 400: not a mobile number")

    delivery.notification_deliver(notification_id=sms_row.pk)

    window = re.search(r"between (\d\d:\d\d-\d\d:\d\d)", sms_row.body).group(1)
    email_row = rows_for(alice, event_key="eta_updated", channel="email").get()
    assert email_row.fallback_of_id == sms_row.pk
    assert f"between {window}." in email_row.body


def test_no_fallback_where_the_user_does_not_allow_the_other_channel(
    settings, eager, sms_outbox, alice, shipment_in, django_capture_on_commit_callbacks
):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    alice.notify_email, alice.notify_sms = False, True
    alice.save()
    RecordingSms.fail_with = TransportError("HTTP 500")
    shipment = shipment_in(Status.PICKED_UP)
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_shipment(event_key="driver_nearby", shipment=shipment)
    assert list(rows_for(alice, event_key="driver_nearby").values_list("channel", "status")) == [
        ("sms", Q.FAILED)
    ]


def test_channel_that_keeps_failing_is_tried_last(settings, alice):
    settings.NOTIFY_FALLBACK_AFTER_FAILURES = 3
    alice.notify_sms = True
    alice.save()
    for i in range(3):
        Notification.objects.create(
            recipient=alice,
            channel="sms",
            event_key="driver_nearby",
            idempotency_key=f"old{i}",
            status=Q.FAILED,
        )
    row = services.notification_write(
        event_key="driver_nearby", recipient=alice, audience="customer", scope="n"
    )
    assert row.channel == "email"
    # One success on SMS and it is first choice again.
    Notification.objects.create(
        recipient=alice,
        channel="sms",
        event_key="eta_updated",
        idempotency_key="ok",
        status=Q.SENT,
    )
    row = services.notification_write(
        event_key="driver_nearby", recipient=alice, audience="customer", scope="m"
    )
    assert row.channel == "sms"


# --- Hooks other areas call ---------------------------------------------------------------------


def test_notify_shipment_once_per_timeline_position_unless_deduped(shipment_in, alice):
    shipment = shipment_in(Status.OUT_FOR_DELIVERY)
    a = services.notify_shipment(event_key="driver_nearby", shipment=shipment)
    b = services.notify_shipment(event_key="driver_nearby", shipment=shipment)
    assert a == b and len(a) == 1
    c = services.notify_shipment(
        event_key="eta_updated", shipment=shipment, extra={"dedupe": "eta-1"}
    )
    d = services.notify_shipment(
        event_key="eta_updated", shipment=shipment, extra={"dedupe": "eta-2"}
    )
    assert c[0].pk != d[0].pk


def test_handover_pin_message_carries_the_pin(shipment_in, alice):
    shipment = shipment_in(Status.ACCEPTED)
    [row] = services.notify_shipment(
        event_key="handover_pin", shipment=shipment, extra={"pin": "4821"}
    )
    assert "4821" in row.body


def test_notify_driver_and_staff(alice, dan, dora, ada):
    [row] = services.notify_driver(
        event_key="dispatch_message", driver_user=dan.user, extra={"message": "Call me"}
    )
    assert "Call me" in row.body
    rows = services.notify_staff(event_key="pin_locked", extra={"dedupe": "pin-1"})
    assert {r.recipient_id for r in rows} == {dora.pk, ada.pk}
    assert services.notify_staff(event_key="pin_locked", extra={"dedupe": "pin-1"}) == rows


def test_unknown_event_key_uses_the_generic_template(alice):
    row = services.notification_write(
        event_key="brand_new_thing",
        recipient=alice,
        audience="customer",
        scope="g",
        extra={"message": "Something new happened."},
    )
    assert "Something new happened." in row.body


def test_inactive_users_are_not_notified(shipment_in, alice):
    alice.is_active = False
    alice.save()
    shipment_in(Status.ACCEPTED)
    assert not rows_for(alice).exists()


def test_note_events_notify_nobody(shipment_in, alice, dan):
    from shipments.models import ShipmentEvent

    shipment = shipment_in(Status.ASSIGNED)
    before = Notification.objects.count()
    note = ShipmentEvent.objects.create(
        shipment=shipment,
        seq=shipment.last_seq + 1,
        kind=ShipmentEvent.Kind.NOTE,
        from_status=Status.ASSIGNED,
        status=Status.ASSIGNED,
        note="Gate code 1234",
    )
    assert services.notifications_for_shipment_event(shipment=shipment, event=note) == []
    assert Notification.objects.count() == before
