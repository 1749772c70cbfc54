"""In Chromium: a dispatcher accepts a paid order and assigns it to the suggested driver; a
second dispatcher's console follows without a reload. (The browser is requested after the
live server, so it closes first and no request is still running when the server stops.)

Runs on pytest-django's live server (WSGI), which has no sockets: this is the fallback, the
second console following through its periodic htmx refresh (one second here). The same story
over real sockets, with the driver's job list too, is in test_browser_live.py."""

import os
import re

import pytest
from django.urls import reverse

from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.browser import ARGS, CHROMIUM
from tests.factories import make_shipment
from tests.realservices import unavailable


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM checks are
    # plain synchronous calls between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not os.path.exists(CHROMIUM):
        unavailable("Chromium is not installed at /usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def login(browser, live_server, user, password):
    context = browser.new_context()
    # Nothing leaves the machine (map tiles included): only the live server answers.
    context.route(lambda url: not url.startswith(live_server.url), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(live_server.url + reverse("login") + "?next=" + reverse("staff-console"))
    page.fill("#id_username", user.email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/$"))
    return page


@pytest.fixture
def paid_order(transactional_db, alice, dan, dora):
    """Made before the browser starts: the lifecycle's after-commit pushes need no event loop
    in this thread."""
    type(dan).objects.filter(pk=dan.pk).update(last_lat=51.053, last_lng=3.722)
    return make_shipment(customer=alice, status=Status.PENDING_REVIEW, driver=dan, staff=dora)


@pytest.mark.browser
def test_dispatcher_accepts_and_assigns_and_another_console_follows(
    paid_order, live_server, browser, settings, dan, dora, ada, password
):
    from playwright.sync_api import expect

    settings.DROPMATE_CONSOLE_REFRESH_SECONDS = 1
    shipment = paid_order
    number = shipment.tracking_number

    mine = login(browser, live_server, dora, password)
    theirs = login(browser, live_server, ada, password)
    review_row = f'#dispatch-panel .dm-row[data-tracking="{number}"]'
    expect(mine.locator(review_row)).to_have_count(1)
    expect(theirs.locator(review_row)).to_have_count(1)

    # Accept in one click: the row moves to the "Accepted, no driver" queue.
    mine.locator(review_row).get_by_role("button", name="Accept").click()
    expect(mine.locator("#dm-console-messages")).to_contain_text(f"{number} accepted.")
    assigned_button = mine.get_by_role("button", name=re.compile(r"^Assign to Dan"))
    expect(assigned_button).to_be_visible()
    assert Shipment.objects.get(pk=shipment.pk).status == Status.ACCEPTED
    # The other dispatcher's console shows it too, without a reload.
    expect(theirs.get_by_role("button", name=re.compile(r"^Assign to Dan"))).to_be_visible(
        timeout=5_000
    )
    expect(theirs.get_by_role("button", name="Accept")).to_have_count(0)

    # Assign to the suggested driver.
    assigned_button.click()
    expect(mine.locator("#dm-console-messages")).to_contain_text(f"{number} assigned to Dan")
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert (fresh.status, fresh.driver_id) == (Status.ASSIGNED, dan.pk)
    # Dan is on the console's map.
    assert (
        mine.evaluate(
            "document.querySelectorAll('#dm-console-map path.leaflet-interactive').length"
        )
        == 1
    )
    # Dan's load and next stop appear in both consoles.
    for page in (mine, theirs):
        driver_row = page.locator(f'tr[data-driver="{dan.pk}"]')
        expect(driver_row).to_contain_text(f"({number})", timeout=5_000)
        expect(page.get_by_role("button", name=re.compile(r"^Assign to"))).to_have_count(0)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_theme_toggle_is_shared_with_the_admin(dora, live_server, browser, password):
    from playwright.sync_api import expect

    page = login(browser, live_server, dora, password)
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "auto")
    page.get_by_role("button", name=re.compile("colour theme")).click()
    expect(html).to_have_attribute("data-theme", "light")
    page.get_by_role("button", name=re.compile("colour theme")).click()
    expect(html).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)"
    page.goto(live_server.url + reverse("admin:index"))
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
