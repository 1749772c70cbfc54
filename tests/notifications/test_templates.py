"""Every event renders on every channel with realistic context; SMS stay within two segments
and carry the tracking link; the recipient's language picks the template."""

from datetime import timedelta

import pytest
from django.utils import timezone

from drivers.models import Driver
from dropmate.accounts.models import User
from notifications import events
from notifications.events import EMAIL, SMS
from notifications.rendering import (
    render_message,
    shipment_context,
    sms_fit,
    sms_segments,
    tracking_url,
)
from shipments.lifecycle import Status
from shipments.models import PaymentState, Shipment
from tests.factories import draft_fields

LONG = "The parcel was refused because the recipient said the box looked damaged " * 6


def unsaved_shipment(status: str, **fields) -> Shipment:
    """A realistic shipment without the database (templates only read fields)."""
    customer = User(email="alice@example.com", first_name="Alice", last_name="Martens")
    driver = Driver(user=User(email="dan@dropmate.local", first_name="Dan"))
    shipment = Shipment(
        customer=customer,
        driver=driver,
        status=status,
        price=12.40,
        payment_state=PaymentState.AUTHORIZED,
        predicted_arrival=timezone.now() + timedelta(minutes=20),
        handover_pin_hash="pbkdf2$...",
        **draft_fields(**fields),
    )
    shipment.pk = 42
    return shipment


def realistic_extra(event_key: str) -> dict:
    now = timezone.now()
    return {
        "reason": "Recipient not home",
        "payment_outcome": "released",
        "pin": "4821",
        "message": "Please call the customer before you ring: the doorbell is broken.",
        "which": "delivery",
        "ended": now - timedelta(minutes=40),
        "driver_name": "Dan",
        "minutes": 17,
        "last_fix_at": now - timedelta(minutes=17),
        "count": 3,
        "items": ["#1 picked_up to +32470000001 by sms: HTTP 500"] * 3,
        "title": "An update",
    }


@pytest.mark.parametrize("event_key", [*events.EVENTS, "some_new_event"])
@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_every_event_renders_on_every_channel(event_key, channel):
    shipment = unsaved_shipment(Status.OUT_FOR_DELIVERY, reference="PO-77")
    context = {"name": "Alice", **shipment_context(shipment), **realistic_extra(event_key)}
    context["link"] = context["tracking_url"]

    rendered = render_message(event_key=event_key, channel=channel, context=context)

    for text in (rendered.subject, rendered.body, rendered.html):
        assert "{{" not in text and "{%" not in text
        assert "None" not in text
    if channel == EMAIL:
        assert rendered.subject and "\n" not in rendered.subject
        assert len(rendered.body) > 40
        assert rendered.html.lstrip().startswith("<!doctype html>")
        assert tracking_url(shipment.tracking_number) in rendered.body
    else:
        assert sms_segments(rendered.body) <= 2
        assert rendered.body.endswith(tracking_url(shipment.tracking_number))
        assert "\n" not in rendered.body


@pytest.mark.parametrize("event_key", ["rejected", "failed_attempt", "dispatch_message"])
def test_long_sms_is_cut_to_two_segments_and_keeps_the_link(event_key):
    shipment = unsaved_shipment(Status.OUT_FOR_DELIVERY)
    link = tracking_url(shipment.tracking_number)
    context = {**shipment_context(shipment), "reason": LONG, "message": LONG, "link": link}

    body = render_message(event_key=event_key, channel=SMS, context=context).body

    assert sms_segments(body) == 2
    assert body.endswith("... " + link)


def test_html_email_escapes_what_people_typed():
    shipment = unsaved_shipment(Status.REJECTED)
    context = {**shipment_context(shipment), "reason": "<script>alert(1)</script>", "link": ""}
    rendered = render_message(event_key="rejected", channel=EMAIL, context=context)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    # The plain-text part is not HTML and is not escaped.
    assert "<script>alert(1)</script>" in rendered.body


def test_recipient_language_picks_the_translated_template():
    shipment = unsaved_shipment(Status.PENDING_REVIEW)
    context = {"name": "An", **shipment_context(shipment), "link": "x"}
    dutch = render_message(
        event_key="booking_received", channel=EMAIL, context=context, language="nl"
    )
    english = render_message(event_key="booking_received", channel=EMAIL, context=context)
    fallback = render_message(
        event_key="booking_received", channel=EMAIL, context=context, language="fr"
    )
    assert dutch.subject.startswith("We hebben je boeking")
    assert english.subject.startswith("We received your booking")
    assert fallback.subject == english.subject


def test_sms_segment_counting_follows_gsm_and_unicode_limits():
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("a" * 306) == 2
    assert sms_segments("a" * 307) == 3
    # Extension characters cost two units.
    assert sms_segments("€" * 80) == 1
    assert sms_segments("€" * 81) == 2
    # One character outside GSM-7 makes the whole message UCS-2 (70 / 67).
    assert sms_segments("ł" + "a" * 69) == 1
    assert sms_segments("ł" + "a" * 70) == 2


def test_sms_fit_replaces_typography_that_would_force_unicode():
    text = sms_fit("Your driver’s nearby – see you soon…", link="https://x/track/A/")
    assert text == "Your driver's nearby - see you soon... https://x/track/A/"
    assert sms_segments(text) == 1
