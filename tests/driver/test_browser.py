"""The driver app in Debian's Chromium at a 360 px phone viewport, with a fake GPS position:
log in, go on duty (a fix is accepted), work a job to delivered with a photo and a signature,
then mark another job offline and see it synced exactly once when the connection returns."""

import os
import re
import time

import pytest
from django.db import connections
from playwright.sync_api import expect

from drivers.models import Driver
from shipments.lifecycle import Status
from shipments.models import ProofOfDelivery, Shipment
from tests.browser import ARGS, CHROMIUM
from tests.driver.conftest import jpeg_bytes
from tests.factories import PASSWORD
from tests.live_server_asgi import asgi_live_server  # noqa: F401  (the fixture)
from tests.realservices import require_postgres, unavailable

TOUCH_TARGETS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll(
      'button, .button, .d-tab, a.job-link, input:not([type=hidden]), select, summary')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // not shown
    if (r.height < 44 || r.width < 44) bad.push(`${el.outerHTML.slice(0, 80)} ${r.height}`);
  }
  return bad;
}"""


@pytest.fixture
def phone(tmp_path, settings, monkeypatch):
    """Call it, after creating the test's data, for a phone-sized Chromium context.

    Started late on purpose: Playwright's sync API keeps an event loop in this thread, and
    data set-up pushes (async_to_sync) cannot run beside it. The ORM reads between browser
    steps are plain synchronous code, hence DJANGO_ALLOW_ASYNC_UNSAFE."""
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    expect.set_options(timeout=20_000)
    settings.MEDIA_ROOT = str(tmp_path / "media")
    opened: list = []

    def open_context(base_url: str):
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        p = sync_playwright().start()
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        opened.append((p, browser))
        context = browser.new_context(
            viewport={"width": 360, "height": 740},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            geolocation={"latitude": 51.0530, "longitude": 3.7220, "accuracy": 12},
            permissions=["geolocation"],
            service_workers="allow",
            base_url=base_url,
        )
        context.set_default_timeout(20_000)
        return context

    yield open_context
    # ORM calls made while Playwright's loop runs get their own connection (asgiref's Local
    # is per context then): close it here, or it outlives the test database.
    connections.close_all()
    for p, browser in opened:
        browser.close()
        p.stop()


def _log_in(page, driver) -> None:
    page.goto("/accounts/login/?next=/driver/")
    page.get_by_label("Email address").fill(driver.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/driver/")


def _no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def _click_move(page, label: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=label, exact=True).click()
    expect(page.locator("#job-status")).to_have_text(label)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_driver_works_jobs_on_a_phone_online_and_offline(dan, job, phone, live_server):
    Driver.objects.filter(pk=dan.pk).update(on_duty=False)
    first = job(Status.ASSIGNED)
    second = job(Status.ASSIGNED)
    browser_context = phone(live_server.url)
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Log in and land in the driver app.
    _log_in(page, dan)
    expect(page.locator("#sharing-state")).to_have_text(re.compile(r"^off"))

    # Installable: the manifest is linked and the service worker registers for /driver/.
    manifest = page.evaluate(
        "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
    )
    assert manifest["scope"] == "/driver/" and manifest["display"] == "standalone"
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope.endswith("/driver/")

    # Go on duty: location sharing starts and the server accepts a fix.
    page.get_by_role("button", name="Go on duty").click()
    page.wait_for_url("**/driver/")
    page.wait_for_function("document.querySelector('#last-fix').dataset.at", timeout=30_000)
    expect(page.locator("#sharing-state")).to_have_text(re.compile(r"^on"))
    dan.refresh_from_db()
    assert dan.on_duty and dan.fixes.exists()
    assert page.evaluate(TOUCH_TARGETS) == []
    _no_horizontal_scroll(page)

    # Work the first job to delivered, with a photo and a drawn signature.
    page.get_by_role("link", name=first.tracking_number).click()
    page.wait_for_url(f"**/driver/jobs/{first.tracking_number}/")
    assert page.evaluate(TOUCH_TARGETS) == []
    _no_horizontal_scroll(page)
    for label in ("Picked up", "In transit", "Out for delivery"):
        _click_move(page, label)
    expect(page.locator("#job-status")).to_have_text("Out for delivery")
    page.set_input_files(
        "#id_photo",
        files=[{"name": "door.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes((640, 480))}],
    )
    canvas = page.locator("#signature-pad")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 20 + step * 20, box["y"] + box["height"] / 2 + (step % 3) * 8)
    page.mouse.up()
    page.get_by_label("Recipient's name").fill("Dee Dropoff")
    page.get_by_role("button", name="Delivered", exact=True).click()
    page.wait_for_url("**/driver/")
    expect(page.locator("#flash")).to_contain_text("delivered. Thank you!")
    delivered = Shipment.objects.get(pk=first.pk)
    assert delivered.status == Status.DELIVERED
    pod = ProofOfDelivery.objects.get(shipment=first)
    assert pod.photo and pod.signature and pod.recipient_name == "Dee Dropoff"

    # The second job: open it, lose the connection, mark it picked up.
    page.get_by_role("link", name=second.tracking_number).click()
    page.wait_for_url(f"**/driver/jobs/{second.tracking_number}/")
    browser_context.set_offline(True)
    page.wait_for_function("!navigator.onLine")
    page.get_by_role("button", name="Picked up", exact=True).click()
    page.wait_for_function("Number(document.body.dataset.pending || 0) >= 1")
    expect(page.locator("#flash")).to_contain_text("Saved on this phone")
    expect(page.locator("#job-status")).to_contain_text("waiting to sync")
    assert Shipment.objects.get(pk=second.pk).status == Status.ASSIGNED
    # The service worker kept the app shell and the job pages: the list opens offline and
    # shows the change that is waiting.
    cached = page.evaluate(
        "async (urls) => Promise.all(urls.map(async u => !!(await caches.match(u))))",
        ["/driver/", f"/driver/jobs/{second.tracking_number}/", "/static/driver/app.js"],
    )
    assert cached == [True, True, True]
    page.goto("/driver/")
    expect(page.locator(f'li[data-tracking="{second.tracking_number}"]')).to_contain_text(
        "waiting to sync"
    )
    page.get_by_role("link", name=second.tracking_number).click()
    page.wait_for_url(f"**/driver/jobs/{second.tracking_number}/")
    expect(page.locator("#pending-note")).to_contain_text("Picked up")

    # Back online: the queue is sent, the page reloads, the job moved exactly once.
    browser_context.set_offline(False)
    page.wait_for_function(
        "document.querySelector('#flash') && "
        "document.querySelector('#flash').innerText.includes('Synced')",
        timeout=30_000,
    )
    page.wait_for_function("document.body.dataset.pending === '0'")
    expect(page.locator("#job-status")).to_have_text("Picked up")
    # A second flush (reload) sends nothing again.
    page.reload()
    page.wait_for_function("document.body.dataset.pending === '0'")
    moved = Shipment.objects.get(pk=second.pk)
    assert moved.status == Status.PICKED_UP
    assert moved.events.filter(status=Status.PICKED_UP).count() == 1
    assert errors == []


@pytest.fixture
def daphne_url(asgi_live_server):  # noqa: F811
    """The real ASGI server (HTTP and WebSockets) as a subprocess on this test's PostgreSQL
    database, which it can see because the test commits."""
    require_postgres()
    return asgi_live_server().url


@pytest.mark.browser
@pytest.mark.services
def test_fixes_go_over_the_driver_socket_when_it_is_connected(dan, job, phone, daphne_url):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    job(Status.IN_TRANSIT)
    # The server process has the production hashers, not the tests' fast one.
    user = dan.user
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "saltsaltsalt", iterations=1000)
    user.save(update_fields=["password"])
    page = phone(daphne_url).new_page()
    _log_in(page, dan)
    page.wait_for_function("document.body.dataset.transport === 'socket'", timeout=30_000)
    assert page.locator("#last-fix").get_attribute("data-at")
    deadline = time.monotonic() + 10
    while not dan.fixes.exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # the socket path stores history within TRACKING_FIX_FLUSH_S
    assert dan.fixes.count() >= 1
    assert not page.evaluate("Number(document.body.dataset.pending || 0)")
