"""Every link a notification carries leads somewhere: each event is written for a real shipment
on each channel (and the monitoring alerts by their real checks), every URL in the rendered
messages and their context is resolved, and opened as the recipient, who does not get a 404."""

import html
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.urls import Resolver404, resolve
from django.utils import timezone

from drivers.models import Driver
from notifications import events, monitoring, services
from notifications.events import EMAIL, SMS
from notifications.models import Notification
from shipments.lifecycle import Status
from shipments.models import Shipment

URL = re.compile(r"https?://[^\s\"'<>]+")

EXTRA = {
    "reason": "Recipient not home",
    "payment_outcome": "released",
    "pin": "482113",
    "message": "Please call the customer before you ring.",
    "which": "delivery",
    "minutes": 17,
    "failures": 5,
    "title": "An update",
}


def urls_in(texts: list[str]) -> set[str]:
    return {url.rstrip(".,)") for text in texts for url in URL.findall(text)}


def message_links(row: Notification) -> set[str]:
    return urls_in([row.subject, row.body, html.unescape(row.body_html)])


def context_links(row: Notification) -> set[str]:
    """Links any template may use (e.g. admin_url is in a customer's context too)."""
    return urls_in([v for v in row.payload.get("context", {}).values() if isinstance(v, str)])


def path_of(link: str, base: str) -> tuple[str, str]:
    assert link.startswith(base + "/"), f"{link} is not on the site"
    parts = urlsplit(link[len(base) :])
    try:
        resolve(parts.path)
    except Resolver404:
        resolved = False
    else:
        resolved = True
    assert resolved, f"{link} resolves to no page"
    return parts.path, parts.query


def write_every_event(shipment: Shipment, recipients: dict[str, object]) -> None:
    """Each known event (and an unknown one, with and without a shipment) on each channel,
    to a recipient of its audience, through the one writer every hook uses."""
    specs = [*events.EVENTS.values()]
    specs += [events.EventSpec("brand_new_thing", a) for a in recipients]
    for spec in specs:
        user = recipients[spec.audience]
        for channel in (EMAIL, SMS):
            user.notify_email, user.notify_sms = channel == EMAIL, channel == SMS
            user.save()
            for on_shipment in (True, False) if spec.key == "brand_new_thing" else (True,):
                row = services.notification_write(
                    event_key=spec.key,
                    recipient=user,
                    audience=spec.audience,
                    scope=f"links.{channel}.{on_shipment}",
                    shipment=shipment if on_shipment else None,
                    extra=dict(EXTRA),
                )
                assert row is not None and row.channel == channel


def run_monitoring_checks(shipment: Shipment, driver: Driver) -> None:
    """The staff alerts whose links the monitoring checks build themselves."""
    long_ago = timezone.now() - timedelta(hours=3)
    Driver.objects.filter(pk=driver.pk).update(
        on_duty=True, on_duty_since=long_ago, last_fix_at=long_ago
    )
    Shipment.objects.filter(pk=shipment.pk).update(
        delivery_window_start=long_ago - timedelta(hours=1), delivery_window_end=long_ago
    )
    Notification.objects.filter(pk=Notification.objects.order_by("pk").first().pk).update(
        status=Notification.Status.FAILED, last_error="HTTP 500"
    )
    assert monitoring.check_silent_drivers() == 1
    assert monitoring.check_late_shipments() >= 1
    assert monitoring.check_failed_notifications() == 1


@pytest.mark.django_db
def test_every_link_in_every_message_opens_for_its_recipient(
    client, settings, shipment_in, alice, dan, dora, ada
):
    settings.PUBLIC_TRACKING_RATE_LIMIT = 10_000
    shipment = shipment_in(Status.OUT_FOR_DELIVERY, declared_value=Decimal("900.00"))
    recipients = {events.CUSTOMER: alice, events.DRIVER: dan.user, events.STAFF: ada}
    write_every_event(shipment, recipients)
    run_monitoring_checks(shipment, dan)
    base = settings.DROPMATE_BASE_URL.rstrip("/")

    opened: dict[tuple[int, str], int] = {}
    for row in Notification.objects.select_related("recipient").order_by("pk"):
        links = message_links(row)
        assert links, f"{row.event_key} by {row.channel} carries no link"
        for link in context_links(row) - links:
            path_of(link, base)
        for link in links:
            path, query = path_of(link, base)
            target = path + (f"?{query}" if query else "")
            key = (row.recipient_id, target)
            if key not in opened:
                client.force_login(row.recipient)
                opened[key] = client.get(target).status_code
            assert opened[key] == 200, (
                f"{row.event_key} by {row.channel} to {row.recipient}: GET {target} "
                f"answered {opened[key]}"
            )

    # Both staff roles get the alerts and can open them.
    assert {uid for uid, _ in opened} >= {alice.pk, dan.user.pk, ada.pk, dora.pk}
    paths = {p.split("?")[0] for _, p in opened}
    for name in ("customer-book", "customer-profile", "driver-home", "customer-shipment"):
        assert any(resolve(p).url_name == name for p in paths), f"no message links to {name}"
