"""Secrets in the outbox: the handover PIN is in the row only while the row may still be sent.
It is what the transport sends, it survives a retry and reaches the fallback channel, and it
is replaced by •••• once the row is sent, failed for good or skipped. Staff never see it in
the admin, and a message whose PIN is gone cannot be resent or retried from the log."""

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from dropmate.lib.exceptions import NotAllowed
from notifications import delivery, services
from notifications.events import REDACTED
from notifications.models import Notification
from notifications.transports import PermanentTransportError, TransportError, sms
from shipments import handover
from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.notifications.conftest import RecordingSms

Q = Notification.Status
CHANGELIST = reverse("admin:notifications_notification_changelist")


@pytest.fixture
def pin_shipment(shipment_in):
    """alice's accepted shipment whose declared value needs a handover PIN."""
    return shipment_in(Status.ACCEPTED, declared_value=Decimal("900.00"))


def issue_pin(shipment) -> tuple[str, Notification]:
    """The PIN as the handover service issues it, and the row it writes (not sent yet)."""
    # Fresh from the database: the test may have changed the customer's preferences.
    pin = handover.handover_pin_issue(shipment=Shipment.objects.get(pk=shipment.pk))
    assert pin is not None
    return pin, Notification.objects.get(event_key="handover_pin", shipment=shipment)


def stored_text(row: Notification) -> str:
    """Everything the row keeps that staff or a backup could read."""
    row.refresh_from_db()
    return "\n".join([row.subject, row.body, row.body_html, row.last_error, str(row.payload)])


def sms_only(user) -> None:
    user.notify_email, user.notify_sms = False, True
    user.save()


# --- While the row is active -------------------------------------------------------------------


def test_queued_row_holds_the_pin_to_send(pin_shipment, alice):
    pin, row = issue_pin(pin_shipment)
    assert row.status == Q.QUEUED and row.channel == "email"
    assert pin in row.body and pin in row.body_html
    assert row.payload["secrets"] == {"pin": pin}
    # The stored context and the rendering staff see are masked from the start.
    assert row.payload["context"]["pin"] == REDACTED
    assert pin not in str(row.payload["context"]) and pin not in str(row.payload["masked"])


def test_provider_error_keeps_the_pin_for_the_retry_and_masks_it_in_the_error(
    pin_shipment, alice, sms_outbox
):
    sms_only(alice)
    pin, row = issue_pin(pin_shipment)
    # A provider that quotes the message back in its error.
    RecordingSms.fail_with = TransportError(f"HTTP 503: could not deliver 'PIN: {pin}'")

    assert delivery.notification_deliver(notification_id=row.pk) is not None

    row.refresh_from_db()
    assert row.status == Q.QUEUED and pin in row.body and row.payload["secrets"]["pin"] == pin
    assert pin not in row.last_error and REDACTED in row.last_error
    RecordingSms.fail_with = None
    Notification.objects.filter(pk=row.pk).update(send_after=timezone.now())
    delivery.notification_deliver(notification_id=row.pk)
    assert [m["to"] for m in sms_outbox] == [alice.phone]
    assert pin in sms_outbox[0]["body"]
    assert pin not in stored_text(row) and row.status == Q.SENT


# --- Done: sent, failed for good, skipped --------------------------------------------------------


def test_sent_email_carries_the_pin_and_the_row_keeps_only_the_mask(
    pin_shipment, alice, eager, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        pin, row = issue_pin(pin_shipment)

    [message] = [m for m in mail.outbox if "handover PIN" in m.subject]
    assert message.to == [alice.email]
    assert pin in message.body and pin in message.alternatives[0].content
    text = stored_text(row)
    assert row.status == Q.SENT
    assert pin not in text
    assert f"is {REDACTED}" in row.body and REDACTED in row.body_html
    assert "secrets" not in row.payload and row.payload["secret_keys"] == ["pin"]
    # The rest of the message is intact.
    assert pin_shipment.tracking_number in row.subject


def test_sent_sms_on_the_console_carries_the_pin_and_the_row_keeps_only_the_mask(
    pin_shipment, alice, eager, settings, capsys, django_capture_on_commit_callbacks
):
    sms_only(alice)
    settings.SMS_BACKEND = "console"
    sms._backend.cache_clear()
    with django_capture_on_commit_callbacks(execute=True):
        pin, row = issue_pin(pin_shipment)
    sms._backend.cache_clear()

    printed = capsys.readouterr().out
    assert f"SMS to {alice.phone}: " in printed and f"is {pin}." in printed
    assert pin not in stored_text(row) and row.status == Q.SENT
    assert f"is {REDACTED}." in row.body


def test_final_failure_writes_the_fallback_with_the_pin_then_scrubs_the_original(
    pin_shipment, alice, sms_outbox, settings
):
    # Email keeps failing for alice, so SMS goes first and email is the fallback.
    settings.NOTIFY_FALLBACK_AFTER_FAILURES = 2
    alice.notify_sms = True
    alice.save()
    for i in range(2):
        Notification.objects.create(
            recipient=alice,
            channel="email",
            event_key="x",
            idempotency_key=f"f{i}",
            status=Q.FAILED,
        )
    pin, sms_row = issue_pin(pin_shipment)
    assert sms_row.channel == "sms"
    RecordingSms.fail_with = PermanentTransportError("HTTP 400: not a mobile number")

    delivery.notification_deliver(notification_id=sms_row.pk)

    assert pin not in stored_text(sms_row) and sms_row.status == Q.FAILED
    email_row = Notification.objects.get(fallback_of=sms_row)
    assert email_row.status == Q.QUEUED and email_row.channel == "email"
    assert pin in email_row.body and email_row.payload["secrets"] == {"pin": pin}
    mail.outbox.clear()

    delivery.notification_deliver(notification_id=email_row.pk)

    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert pin in mail.outbox[0].body
    assert pin not in stored_text(email_row) and email_row.status == Q.SENT


def test_last_attempt_failing_scrubs_the_pin_too(pin_shipment, alice, sms_outbox, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    sms_only(alice)  # no other channel: no fallback
    pin, row = issue_pin(pin_shipment)
    RecordingSms.fail_with = TransportError("timeout")
    delivery.notification_deliver(notification_id=row.pk)
    assert pin in stored_text(row)
    delivery.notification_deliver(notification_id=row.pk, wait=False)
    assert pin not in stored_text(row) and (row.status, row.attempts) == (Q.FAILED, 2)
    assert not Notification.objects.filter(fallback_of=row).exists()


def test_sweep_scrubs_a_row_that_was_skipped_while_holding_the_pin(pin_shipment, alice):
    pin, row = issue_pin(pin_shipment)
    Notification.objects.filter(pk=row.pk).update(status=Q.SKIPPED)
    assert delivery.notifications_sweep()["scrubbed"] == 1
    assert pin not in stored_text(row)
    assert delivery.notifications_sweep()["scrubbed"] == 0


def test_secret_keys_are_per_event_not_a_pin_special_case(pin_shipment, alice):
    # "accepted" declares the PIN secret too; a non-secret event keeps what it was given.
    [accepted] = services.notify_shipment(
        event_key="accepted", shipment=pin_shipment, extra={"pin": "919191", "dedupe": "a"}
    )
    [note] = services.notify_shipment(
        event_key="dispatch_note", shipment=pin_shipment, extra={"pin": "919191", "dedupe": "b"}
    )
    assert accepted.payload["context"]["pin"] == REDACTED and "secrets" in accepted.payload
    assert note.payload["context"]["pin"] == "919191" and "secret_keys" not in note.payload


# --- Staff ---------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, ada):
    client.force_login(ada)
    return client


def test_admin_never_shows_the_pin_even_while_queued(staff_client, pin_shipment, alice):
    pin, row = issue_pin(pin_shipment)
    assert row.status == Q.QUEUED
    detail = staff_client.get(reverse("admin:notifications_notification_change", args=[row.pk]))
    listing = staff_client.get(CHANGELIST)
    assert detail.status_code == listing.status_code == 200
    assert pin not in detail.content.decode() and pin not in listing.content.decode()
    assert REDACTED in detail.content.decode()
    assert pin_shipment.tracking_number in detail.content.decode()


def test_resend_of_a_sent_pin_message_is_refused_with_what_to_do_instead(
    staff_client, pin_shipment, alice, sms_outbox, eager, django_capture_on_commit_callbacks
):
    sms_only(alice)
    with django_capture_on_commit_callbacks(execute=True):
        pin, row = issue_pin(pin_shipment)
    other = services.notification_write(
        event_key="picked_up", recipient=alice, audience="customer", scope="other"
    )
    sent_before = len(sms_outbox)

    response = staff_client.post(
        CHANGELIST, {"action": "resend", "_selected_action": [row.pk, other.pk]}, follow=True
    )

    texts = [str(m) for m in response.context["messages"]]
    assert any(
        f"Notification {row.pk} (handover_pin) was not sent again" in t
        and f"Issue a new one for shipment {pin_shipment.tracking_number}" in t
        for t in texts
    )
    assert "1 notification(s) queued again as new sends." in texts
    assert not Notification.objects.filter(resent_from=row).exists()
    assert Notification.objects.filter(resent_from=other).exists()
    assert all(REDACTED not in m["body"] for m in sms_outbox[sent_before:])
    row.refresh_from_db()
    with pytest.raises(NotAllowed):
        services.notification_resend(notification=row, actor=alice)


def test_resend_of_a_pin_message_still_queued_sends_the_pin(pin_shipment, alice, ada):
    pin, row = issue_pin(pin_shipment)
    copy = services.notification_resend(notification=row, actor=ada)
    assert pin in copy.body and copy.payload["secrets"] == {"pin": pin}
    mail.outbox.clear()
    delivery.notification_deliver(notification_id=copy.pk)
    assert pin in mail.outbox[0].body
    assert pin not in stored_text(copy)


def test_retry_of_a_failed_pin_message_is_refused(staff_client, pin_shipment, alice, sms_outbox):
    sms_only(alice)
    pin, row = issue_pin(pin_shipment)
    RecordingSms.fail_with = PermanentTransportError("HTTP 400: not a mobile number")
    delivery.notification_deliver(notification_id=row.pk)
    RecordingSms.fail_with = None

    response = staff_client.post(
        CHANGELIST, {"action": "retry_failed", "_selected_action": [row.pk]}, follow=True
    )

    texts = [str(m) for m in response.context["messages"]]
    assert any(f"Notification {row.pk} (handover_pin) was not sent again" in t for t in texts)
    assert "0 failed notification(s) queued again." in texts
    assert not any("had not failed" in t for t in texts)
    row.refresh_from_db()
    assert row.status == Q.FAILED
    assert services.notification_fallback(notification=row) is None
