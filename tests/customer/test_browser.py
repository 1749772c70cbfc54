"""What a person does, in Debian's Chromium: sign up, book through every step (reloading and
resuming in the middle), pay on delivery, then find the shipment in "My shipments" and on its
public tracking page.

Paying by card in the browser is not driven here: localstripe's Stripe.js stand-in implements
`confirmCardPayment` only as a 3-D Secure prompt for an intent that already has a card, so the
card typed into its Element is never attached. The card path is tested over HTTP with the real
SDK in test_payments_stripe.py."""

import os
import re
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.browser import ARGS, CHROMIUM
from tests.customer.conftest import tomorrow_at
from tests.realservices import unavailable

pytestmark = [pytest.mark.browser, pytest.mark.services]


@pytest.fixture
def page(settings, monkeypatch):
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is not installed")
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM reads are
    # still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # No tiles: the machine has no internet, and the page must work without them.
    settings.DROPMATE_MAP_TILE_URL = ""
    settings.DROPMATE_GEOCODER_URL = ""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 420, "height": 900})
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


def snap(page, name: str) -> None:
    """Screenshots for a person to look at: set DROPMATE_SCREENSHOTS to a folder."""
    folder = os.environ.get("DROPMATE_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def _local(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.django_db(transaction=True)
def test_sign_up_book_every_step_resume_and_track(page, live_server):
    base = live_server.url
    page.goto(f"{base}/signup/")
    page.get_by_label("Email address").fill("carol@example.com")
    page.get_by_label("First name").fill("Carol")
    page.get_by_label("Mobile phone").fill("+32470999999")
    page.get_by_label(re.compile(r"^Password\W*$")).fill("a-long-unusual-passphrase")
    page.get_by_label("Password confirmation").fill("a-long-unusual-passphrase")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/book/")
    assert "Welcome!" in page.content()

    page.get_by_role("link", name="Start a new booking").click()
    # Step 1: pickup. The pin is placed by clicking the map (no tiles needed).
    page.get_by_label("Street and number").fill("Veldstraat 12")
    page.get_by_label("City").fill("Ghent")
    page.get_by_label("Contact name").fill("Pat Pickup")
    page.get_by_label("Contact phone").fill("+32470111111")
    page.locator("#booking-map").click(position={"x": 120, "y": 100})
    assert page.get_by_label("Latitude").input_value() != ""
    snap(page, "1-pickup")
    page.get_by_role("button", name="Save and continue").click()

    # Step 2: drop-off, first with a mistake: the error is announced beside the field and
    # what was typed stays.
    page.wait_for_url(re.compile(r"/book/DM-[\w-]+/dropoff/$"))
    page.get_by_label("Street and number").fill("Kouter 7")
    page.get_by_label("City").fill("Ghent")
    page.get_by_label("Contact name").fill("Dee Dropoff")
    page.get_by_label("Contact phone").fill("0470 22 22 22")
    page.get_by_label("Latitude").fill("51.0400")
    page.get_by_label("Longitude").fill("3.7300")
    page.get_by_role("button", name="Save and continue").click()
    alert = page.locator("#id_dropoff_contact_phone_error")
    assert "international format" in alert.inner_text()
    assert alert.get_attribute("role") == "alert"
    snap(page, "2-dropoff-error")
    assert page.get_by_label("Street and number").input_value() == "Kouter 7"
    page.get_by_label("Contact phone").fill("+32470222222")
    page.get_by_role("button", name="Save and continue").click()

    # Step 3: reload in the middle, then leave and resume from the booking page.
    page.wait_for_url(re.compile(r"/book/DM-[\w-]+/parcel/$"))
    parcel_url = page.url
    page.reload()
    assert page.get_by_role("heading", name=re.compile("What are we carrying")).is_visible()
    page.goto(f"{base}/")
    page.get_by_role("link", name="Book", exact=True).click()
    page.get_by_role("link", name=re.compile("^Resume")).click()
    assert page.url == parcel_url
    page.get_by_label("Size").select_option("medium")
    page.get_by_label("Weight (kg)").fill("3.5")
    page.get_by_label("What is it?").fill("Books")
    page.get_by_role("button", name="Save and continue").click()

    # Step 4: service and windows.
    page.wait_for_url(re.compile(r"/book/DM-[\w-]+/service/$"))
    start = tomorrow_at(10)  # not "now + 3 h": see tomorrow_at
    page.get_by_label("Express").check()
    page.get_by_label("Pickup from").fill(_local(start))
    page.get_by_label("Pickup until").fill(_local(start + timedelta(hours=1)))
    page.get_by_label("Deliver from").fill(_local(start + timedelta(hours=1)))
    page.get_by_label("Deliver until").fill(_local(start + timedelta(hours=3)))
    page.get_by_role("button", name="Save and continue").click()

    # Step 5: review the price line by line, pay on delivery.
    page.wait_for_url(re.compile(r"/book/DM-[\w-]+/review/$"))
    shipment = Shipment.objects.get(customer__email="carol@example.com")
    table = page.locator("table.breakdown").inner_text()
    for line in shipment.price_breakdown:
        assert line["label"] in table
    assert f"{shipment.price} EUR" in table
    snap(page, "5-review")
    page.get_by_label(re.compile("Pay on delivery")).check()
    page.get_by_role("button", name=re.compile("^Book for")).click()

    page.wait_for_url(f"{base}/shipments/{shipment.tracking_number}/")
    assert "Pending review" in page.locator("#shipment-status").inner_text()
    shipment.refresh_from_db()
    assert shipment.status == Status.PENDING_REVIEW
    snap(page, "6-detail")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My shipments").click()
    row = page.locator("table.shipments tbody tr").first
    assert shipment.tracking_number in row.inner_text()
    assert "Pending review" in row.inner_text()

    page.goto(f"{base}/track/")
    page.get_by_label("Tracking number").fill(shipment.tracking_number.lower())
    page.get_by_role("button", name="Track").click()
    page.wait_for_url(f"{base}/track/{shipment.tracking_number}/")
    public = page.content()
    snap(page, "7-public")
    assert "Pending review" in public
    for private in ("Pat Pickup", "Dee Dropoff", "Veldstraat", "Kouter", "+32470", "carol"):
        assert private not in public
    # The ORM reads above ran beside Playwright's event loop, on a connection of their own.
    connections.close_all()


@pytest.fixture
def card_booking(transactional_db, stripe_on, alice):
    """A booking awaiting card payment and a logged-in session for alice, made before the
    browser starts (Playwright's event loop would refuse the after-commit pushes)."""
    from django.test import Client

    from shipments import booking
    from shipments.pricing import shipment_quote
    from tests.factories import make_shipment

    draft = make_shipment(customer=alice)
    shipment_quote(shipment=draft, actor=alice)
    booking.booking_book(shipment=draft, actor=alice, payment_method="card")
    session = Client()
    session.force_login(alice)
    return draft, session.cookies["sessionid"].value


def test_pay_page_mounts_the_card_element_from_the_stripe_js_stand_in(
    card_booking, page, live_server
):
    """As far as localstripe's Stripe.js goes: the page loads it from STRIPE_JS_URL and mounts
    the card Element for the intent's client secret."""
    shipment, session_id = card_booking
    page.context.add_cookies([{"name": "sessionid", "value": session_id, "url": live_server.url}])
    page.goto(f"{live_server.url}/shipments/{shipment.tracking_number}/pay/")
    element = page.locator("#card-element")
    element.locator("input").first.wait_for()
    placeholders = [i.get_attribute("placeholder") for i in element.locator("input").all()]
    assert placeholders[:4] == ["number", "exp_month", "exp_year", "cvc"]
    assert page.get_by_role("button", name=re.compile("^Authorise")).is_enabled()
    connections.close_all()
