"""Messages from templates: `notifications/<event>/` holds `email_subject.txt`, `email.txt`,
`email.html` and `sms.txt`; `notifications/<event>/<language>/` may override them. The
recipient's `language` (else LANGUAGE_CODE) is active while rendering, and times are shown in
NOTIFY_DISPLAY_TIME_ZONE.

SMS are kept to NOTIFY_SMS_MAX_SEGMENTS segments and always end with the link.

Every link is built with `site_url` (a URL name reversed, under DROPMATE_BASE_URL), so a
renamed or moved page breaks at render time (and in tests) instead of in a customer's inbox.
"""

import re
import zoneinfo
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.template.loader import select_template
from django.urls import reverse
from django.utils import timezone, translation

from notifications.events import EMAIL, template_dir
from shipments.lifecycle import FAILED_ATTEMPT_REASONS
from shipments.models import Shipment

# GSM 03.38: the basic set costs one unit, the extension table two (escape + char).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")
# Typography that would silently switch a message to UCS-2 (70 chars a segment).
_PLAIN = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "..."})


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    html: str


def sms_units(text: str) -> tuple[str, int]:
    """(encoding, length in that encoding's units)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        return "gsm7", len(text) + sum(ch in GSM7_EXTENDED for ch in text)
    return "ucs2", len(text.encode("utf-16-le")) // 2


def sms_segments(text: str) -> int:
    encoding, units = sms_units(text)
    single, multi = (160, 153) if encoding == "gsm7" else (70, 67)
    if units <= single:
        return 1
    return -(-units // multi)


def sms_fit(text: str, *, link: str = "", max_segments: int | None = None) -> str:
    """One line, plain punctuation, ending with `link`, shortened to `max_segments`."""
    max_segments = max_segments or settings.NOTIFY_SMS_MAX_SEGMENTS
    text = re.sub(r"\s+", " ", text.translate(_PLAIN)).strip()
    if link:
        text = text.replace(link, "").strip()
    tail = f" {link}" if link else ""
    if sms_segments(text + tail) <= max_segments:
        return text + tail
    low, high = 0, len(text)
    while low < high:  # the longest head that still fits with "..." and the link
        mid = (low + high + 1) // 2
        if sms_segments(text[:mid].rstrip() + "..." + tail) <= max_segments:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + "..." + tail


def site_url(viewname: str, *, args: list | None = None, kwargs: dict | None = None) -> str:
    """The absolute URL of a named route, for messages read outside the site."""
    return settings.DROPMATE_BASE_URL.rstrip("/") + reverse(viewname, args=args, kwargs=kwargs)


def tracking_url(tracking_number: str) -> str:
    return site_url("track", kwargs={"tracking": tracking_number})


def shipment_context(shipment: Shipment) -> dict[str, Any]:
    """What any template may say about a shipment."""
    eta_start, eta_end = shipment.delivery_window_start, shipment.delivery_window_end
    if shipment.predicted_arrival is not None:
        spread = timedelta(minutes=settings.NOTIFY_ETA_WINDOW_MINUTES)
        eta_start = shipment.predicted_arrival - spread
        eta_end = shipment.predicted_arrival + spread
    driver = shipment.driver
    return {
        "tracking_number": shipment.tracking_number,
        "tracking_url": tracking_url(shipment.tracking_number),
        # The proof of delivery is on the customer's own shipment page (sign-in needed), not
        # on the public tracking page.
        "pod_url": site_url("customer-shipment", kwargs={"tracking": shipment.tracking_number}),
        "rebook_url": site_url("customer-book"),
        "admin_url": site_url("admin:shipments_shipment_change", args=[shipment.pk]),
        "status_label": shipment.get_status_display(),
        "reference": shipment.reference,
        "description": shipment.description,
        "pickup_city": shipment.pickup_city,
        "dropoff_address": shipment.dropoff_address,
        "dropoff_city": shipment.dropoff_city,
        "window_start": shipment.delivery_window_start,
        "window_end": shipment.delivery_window_end,
        "eta_start": eta_start,
        "eta_end": eta_end,
        "driver_name": driver.first_name if driver is not None else "",
        "payment_state": shipment.payment_state,
        "payment_label": shipment.get_payment_state_display(),
        "price": shipment.price,
        "currency": shipment.currency,
        "requires_pin": bool(shipment.handover_pin_hash),
        "customer_name": str(shipment.customer) if shipment.customer_id else "",
    }


def reason_label(reason: str) -> str:
    return dict(FAILED_ATTEMPT_REASONS).get(reason, reason)


def _names(event_key: str, language: str, name: str) -> list[str]:
    folder = f"notifications/{template_dir(event_key)}"
    names = [f"{folder}/{name}"]
    if language:
        names.insert(0, f"{folder}/{language}/{name}")
    return names


def _render(event_key: str, language: str, name: str, context: dict[str, Any]) -> str:
    template = select_template(_names(event_key, language, name))
    return template.render(context)


def render_message(
    *, event_key: str, channel: str, context: dict[str, Any], language: str = ""
) -> Rendered:
    """Render one message. `context` holds the recipient's `name` and the event's details."""
    language = (language or settings.LANGUAGE_CODE).lower()
    tz = zoneinfo.ZoneInfo(settings.NOTIFY_DISPLAY_TIME_ZONE)
    context = {
        "site_name": settings.DROPMATE_SITE_NAME,
        "base_url": settings.DROPMATE_BASE_URL.rstrip("/"),
        # Where anyone (customer, driver, staff) chooses which messages they get.
        "account_url": site_url("customer-profile"),
        "event_key": event_key,
        **context,
    }
    with translation.override(language), timezone.override(tz):
        if channel == EMAIL:
            subject = " ".join(_render(event_key, language, "email_subject.txt", context).split())
            body = _render(event_key, language, "email.txt", context).strip()
            link = context.get("link", "")
            if link and link not in body:
                body += f"\n\n{link}"
            body += "\n"
            html = _render(event_key, language, "email.html", context)
            return Rendered(subject=subject[:200], body=body, html=html)
        text = _render(event_key, language, "sms.txt", context)
        return Rendered(subject="", body=sms_fit(text, link=context.get("link", "")), html="")
