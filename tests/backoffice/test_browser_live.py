"""In Chromium, over real WebSockets: dora accepts a paid order on the dispatch console and
assigns it to dan; ada's console and dan's job list on his phone follow without a reload.

daphne serves the test database (tests/live_server_asgi.py). The console's htmx polling is set
to an hour, so only the fleet socket can update ada's console, and the driver app has no
polling at all: its job list follows /ws/driver/. The heartbeat is one second, so a page that
does not answer the server's pings loses its socket during the test (and the test sees it)."""

import re
import time
from pathlib import Path

import pytest
from django.db import connections

from drivers.models import Driver
from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent
from tests.browser import ARGS, CHROMIUM
from tests.factories import make_shipment
from tests.live_server_asgi import asgi_live_server  # noqa: F401  (the fixture)
from tests.realservices import unavailable
from tracking.simulator import session_for

# Live updates must land well within this; polling (an hour) never would.
LIVE_MS = 3_000
HEARTBEAT_S = 1

# Every change of the console's connection state, from the page's own point of view.
WATCH_CONSOLE = """() => {
  const status = document.getElementById("dm-live-status");
  window.dmStates = [];
  new MutationObserver(() => window.dmStates.push(status.dataset.state))
    .observe(status, { attributes: true, attributeFilter: ["data-state"] });
  window.dmSameDocument = true;
}"""


@pytest.fixture
def paid_order(transactional_db, alice, dan, dora):
    """Made before the browser starts: the lifecycle's after-commit pushes need no event loop
    in this thread. Dan has a position, so the console suggests him."""
    Driver.objects.filter(pk=dan.pk).update(last_lat=51.053, last_lng=3.722)
    return make_shipment(customer=alice, status=Status.PENDING_REVIEW, driver=dan, staff=dora)


@pytest.fixture
def chromium(monkeypatch):
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    # Playwright's sync API keeps an event loop in this thread; the ORM reads between browser
    # steps are plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            # ORM calls made beside Playwright's loop get a connection of their own (asgiref's
            # Local is per context then): closed here, or it outlives the test database.
            connections.close_all()
            browser.close()


def open_page(browser, server, session: str, path: str, errors: list[str], **context_options):
    context = browser.new_context(**context_options)
    # Nothing leaves the machine: only the server under test answers.
    context.route(lambda url: not url.startswith(server.url), lambda route: route.abort())
    context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda exc: errors.append(f"{path}: {exc}"))
    page.goto(server.url + path)
    return page


@pytest.mark.browser
def test_accept_and_assign_reach_another_console_and_the_drivers_job_list_over_sockets(
    paid_order,
    asgi_live_server,  # noqa: F811
    chromium,
    dan,
    dora,
    ada,
):
    from playwright.sync_api import expect

    number = paid_order.tracking_number
    sessions = {who: session_for(user) for who, user in (("dora", dora), ("ada", ada))}
    sessions["dan"] = session_for(dan.user)
    server = asgi_live_server(
        DROPMATE_CONSOLE_REFRESH_SECONDS="3600", TRACKING_WS_HEARTBEAT_S=str(HEARTBEAT_S)
    )
    errors: list[str] = []
    mine = open_page(chromium, server, sessions["dora"], "/staff/", errors)
    theirs = open_page(chromium, server, sessions["ada"], "/staff/", errors)
    phone = open_page(
        chromium,
        server,
        sessions["dan"],
        "/driver/",
        errors,
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
    )
    for console in (mine, theirs):
        expect(console.locator("#dm-live-status")).to_have_attribute("data-state", "live")
    expect(phone.locator("body")).to_have_attribute("data-socket", "open")
    theirs.evaluate(WATCH_CONSOLE)
    live_since = time.monotonic()
    phone.evaluate("() => { window.dmSameDocument = true; }")
    job_card = phone.locator(f'#job-list li[data-tracking="{number}"]')
    expect(job_card).to_have_count(0)
    review_row = f'#dispatch-panel .dm-row[data-tracking="{number}"]'
    expect(theirs.locator(review_row)).to_have_count(1)

    # Dora accepts: ada's console moves the order to "Accepted, no driver".
    mine.locator(review_row).get_by_role("button", name="Accept").click()
    expect(mine.locator("#dm-console-messages")).to_contain_text(f"{number} accepted.")
    expect(theirs.get_by_role("button", name=re.compile(r"^Assign to Dan"))).to_be_visible(
        timeout=LIVE_MS
    )
    expect(theirs.get_by_role("button", name="Accept")).to_have_count(0)

    # Dora assigns it to dan, the suggested driver.
    mine.get_by_role("button", name=re.compile(r"^Assign to Dan")).click()
    expect(mine.locator("#dm-console-messages")).to_contain_text(f"{number} assigned to Dan")
    expect(theirs.locator(f'tr[data-driver="{dan.pk}"]')).to_contain_text(
        f"({number})", timeout=LIVE_MS
    )
    expect(theirs.get_by_role("button", name=re.compile(r"^Assign to"))).to_have_count(0)
    # Dan's job list shows the new job, and the live region says so.
    expect(job_card).to_be_visible(timeout=LIVE_MS)
    expect(job_card.locator("[data-status]")).to_have_text("Assigned")
    expect(phone.locator("#flash")).to_contain_text(f"New job {number}")
    expect(phone.get_by_role("link", name=re.compile(number))).to_have_attribute(
        "href", f"/driver/jobs/{number}/"
    )

    shipment = Shipment.objects.get(pk=paid_order.pk)
    assert (shipment.status, shipment.driver_id) == (Status.ASSIGNED, dan.pk)
    assert shipment.events.filter(kind=ShipmentEvent.Kind.ASSIGNMENT).count() == 1

    # Neither page reloaded, and ada's socket stayed up past three heartbeats (the console
    # answers the pings).
    time.sleep(max(0.0, live_since + 4 * HEARTBEAT_S + 0.5 - time.monotonic()))
    assert theirs.evaluate("window.dmSameDocument") is True
    assert phone.evaluate("window.dmSameDocument") is True
    assert theirs.evaluate("window.dmStates") == []
    expect(theirs.locator("#dm-live-status")).to_have_attribute("data-state", "live")
    expect(phone.locator("body")).to_have_attribute("data-socket", "open")
    assert errors == []
