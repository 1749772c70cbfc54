"""What a customer does on a phone after a failed attempt, in Debian's Chromium: opens the
shipment page, gets a window wrong (the error is announced beside the field), chooses a new
day and time, and sees it confirmed and on the timeline."""

import os
import re
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.browser import ARGS, CHROMIUM
from tests.customer.test_browser import snap
from tests.factories import make_shipment
from tests.realservices import unavailable

pytestmark = [pytest.mark.browser, pytest.mark.services]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def failed_session(transactional_db, alice, dan, dora):
    """alice's shipment after a failed attempt and her session cookie, made before the browser
    starts (Playwright's event loop would refuse the after-commit pushes)."""
    shipment = make_shipment(customer=alice, status=Status.FAILED_ATTEMPT, driver=dan, staff=dora)
    session = Client()
    session.force_login(alice)
    return shipment, session.cookies["sessionid"].value


@pytest.fixture
def phone(settings, monkeypatch):
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is not installed")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.DROPMATE_MAP_TILE_URL = ""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


def test_customer_chooses_a_new_delivery_time_on_a_phone(failed_session, phone, live_server):
    shipment, session_id = failed_session
    page = phone
    page.context.add_cookies([{"name": "sessionid", "value": session_id, "url": live_server.url}])
    page.goto(f"{live_server.url}/shipments/{shipment.tracking_number}/")

    section = page.get_by_role("region", name="Choose a new delivery time")
    assert section.is_visible()
    # Nothing sticks out sideways at phone width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()

    # First the window the wrong way round: the error is announced and tied to "Until".
    section.get_by_label("Day").fill(tomorrow)
    section.get_by_label("From").fill("16:00")
    section.get_by_label("Until").fill("14:00")
    section.get_by_role("button", name="Save the new delivery time").click()
    until = page.get_by_label("Until")
    alert = page.locator("#id_window_end_error")
    assert alert.inner_text() == "The delivery window must end after it starts."
    assert alert.get_attribute("role") == "alert"
    assert until.get_attribute("aria-describedby") == "id_window_end_error"
    assert page.get_by_label("Day").input_value() == tomorrow
    snap(page, "redelivery-1-error")

    until.fill("18:00")
    page.get_by_label("Instructions for the driver (optional)").fill("Back door, code 4711")
    page.get_by_role("button", name="Save the new delivery time").click()

    page.wait_for_url(f"{live_server.url}/shipments/{shipment.tracking_number}/")
    status = page.get_by_role("status").filter(has_text="New delivery time saved")
    assert re.search(
        r"New delivery time saved: \w{3} \d{1,2} \w{3} 16:00–18:00", status.inner_text()
    )
    timeline = page.locator("#shipment-status ol.timeline").inner_text()
    assert re.search(r"New delivery time: \w{3} \d{1,2} \w{3} 16:00–18:00", timeline)
    snap(page, "redelivery-2-saved")

    fresh = Shipment.objects.get(pk=shipment.pk)
    assert timezone.localtime(fresh.delivery_window_start).strftime("%Y-%m-%d %H:%M") == (
        f"{tomorrow} 16:00"
    )
    assert fresh.dropoff_instructions == "Back door, code 4711"
    assert fresh.events.filter(data__mark="new_delivery_time").count() == 1
    connections.close_all()
