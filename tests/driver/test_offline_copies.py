"""The driver app's offline copies (service worker), in Debian's Chromium: pages come from the
network first and the copy kept on the phone is the latest one seen, shown offline with the
time it was made; copies belong to one driver and never reach the next one on the phone."""

import datetime as dt
import re
import time
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from django.db import connections
from django.urls import reverse
from playwright.sync_api import expect

from drivers.models import Driver
from portals.views import driver as driver_views
from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.driver.test_browser import _log_in, phone  # noqa: F401  (the fixture)
from tests.factories import PASSWORD, make_shipment

PAGES = "dropmate-driver-pages-"

STORED = """async (url) => {
  const hit = await caches.match(url);
  return hit ? await hit.text() : null;
}"""


def _meanwhile(make, *args):
    """Data changed while Chromium runs: in a thread of its own, because the pushes it sends
    on commit (async_to_sync) cannot run beside Playwright's event loop."""

    def run():
        try:
            return make(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _erin_job(alice, erin, dora):
    return make_shipment(customer=alice, status=Status.ASSIGNED, driver=erin, staff=dora)


def _row(page, shipment):
    return page.locator(f'#job-list li[data-tracking="{shipment.tracking_number}"]')


def _until(page, script: str, arg=None, timeout_s: float = 20.0):
    """Poll `script` (which may return a promise) in the page until it is truthy."""
    deadline = time.monotonic() + timeout_s
    while not (value := page.evaluate(script, arg)):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {script}"
        page.wait_for_timeout(200)
    return value


def _in_flight(context) -> set:
    """The requests under way in `context`, the service worker's included."""
    pending: set = set()
    context.on("request", lambda request: pending.add(request))
    context.on("requestfinished", lambda request: pending.discard(request))
    context.on("requestfailed", lambda request: pending.discard(request))
    return pending


def _settle(page, pending: set, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while pending:
        assert time.monotonic() < deadline, f"still under way: {[r.url for r in pending]}"
        page.wait_for_timeout(100)


def _stored(page, url: str, text: str) -> None:
    """Wait until the copy kept for `url` contains `text`."""
    _until(page, f"url => ({STORED})(url).then(html => !!html && html.includes({text!r}))", url)


def _page_caches(page) -> list[str]:
    return [k for k in page.evaluate("caches.keys()") if k.startswith(PAGES)]


def _controlled(page) -> None:
    page.wait_for_function("navigator.serviceWorker.controller !== null")


def _as_of(page, rendered_at: float) -> str:
    zone = ZoneInfo(page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"))
    return dt.datetime.fromtimestamp(rendered_at, zone).strftime("%H:%M")


# --- without a browser: what the worker and the pages tell each other ---------------------


def test_driver_pages_name_their_owner_and_each_driver_has_another(client, dan, erin):
    header = driver_views.OFFLINE_OWNER_HEADER
    client.force_login(dan.user)
    dans = client.get(reverse("driver-home"))
    assert dans[header] == client.get(reverse("driver-messages"))[header]
    assert 'data-copy="live"' in dans.content.decode()
    client.force_login(erin.user)
    erins = client.get(reverse("driver-home"))
    assert erins[header] and erins[header] != dans[header]
    client.logout()
    # Logged out: a redirect to the login page, which names nobody (never stored).
    response = client.get(reverse("driver-home"))
    assert response.status_code == 302 and header not in response


def test_service_worker_changes_version_when_the_app_shell_changes(client, settings, tmp_path):
    first = client.get(reverse("driver-sw")).content.decode()
    assert "var PAGE_TIMEOUT_MS = 4000;" in first
    version = re.search(r'var VERSION = "(\w+)";', first).group(1)
    assert client.get(reverse("driver-sw")).content.decode() == first
    # A new driver.css (and nothing else) is a new version: phones store the shell again.
    static = tmp_path / "static"
    (static / "driver").mkdir(parents=True)
    (static / "driver" / "driver.css").write_text("body { color: red; }")
    settings.STATICFILES_DIRS = [static, *settings.STATICFILES_DIRS]
    changed = client.get(reverse("driver-sw")).content.decode()
    assert re.search(r'var VERSION = "(\w+)";', changed).group(1) != version


# --- in Chromium ----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_offline_reload_shows_the_latest_online_copy_and_back_online_the_fresh_list(
    dan,
    job,
    phone,  # noqa: F811
    live_server,
):
    Driver.objects.filter(pk=dan.pk).update(on_duty=False)
    first = job(Status.ASSIGNED)
    context = phone(live_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(page, dan)
    _controlled(page)
    # The first page came before the worker; it is stored as soon as the worker takes over.
    _stored(page, "/driver/", first.tracking_number)

    # Dispatch gives Dan another job: online, a reload shows it (the network comes first).
    second = _meanwhile(job, Status.ASSIGNED)
    before = time.time()
    page.reload()
    after = time.time()
    expect(_row(page, second)).to_be_visible()
    expect(page.locator("#offline-copy")).to_be_hidden()
    _stored(page, "/driver/", second.tracking_number)

    # Offline, a third job arrives; the reload shows the last copy, saying so and from when.
    context.set_offline(True)
    third = _meanwhile(job, Status.ASSIGNED)
    page.reload()
    banner = page.locator("#offline-copy")
    expect(banner).to_be_in_viewport()
    rendered_at = float(page.evaluate("document.body.dataset.renderedAt"))
    assert before - 1 <= rendered_at <= after + 1
    expect(banner).to_have_text(f"Offline — showing jobs as of {_as_of(page, rendered_at)}")
    expect(_row(page, first)).to_be_visible()
    expect(_row(page, second)).to_be_visible()
    expect(_row(page, third)).to_have_count(0)

    # Back online: the list is fetched again by itself and the banner goes.
    context.set_offline(False)
    expect(_row(page, third)).to_be_visible()
    expect(banner).to_be_hidden()
    # The copy kept on the phone followed the fresh list, so offline it is not out of date.
    _stored(page, "/driver/", third.tracking_number)
    context.set_offline(True)
    page.reload()
    expect(banner).to_be_visible()
    expect(_row(page, third)).to_be_visible()
    context.set_offline(False)
    assert errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_next_driver_on_the_phone_never_sees_the_first_drivers_jobs(
    alice,
    dan,
    erin,
    dora,
    job,
    phone,  # noqa: F811
    live_server,
    monkeypatch,
):
    monkeypatch.setattr(driver_views, "PAGE_NETWORK_TIMEOUT_S", 1.0)
    Driver.objects.filter(pk__in=[dan.pk, erin.pk]).update(on_duty=False)
    dans = job(Status.ASSIGNED)
    erins = _erin_job(alice, erin, dora)
    dans_page = f"/driver/jobs/{dans.tracking_number}/"
    context = phone(live_server.url)
    pending = _in_flight(context)
    page = context.new_page()
    _log_in(page, dan)
    _controlled(page)
    _stored(page, "/driver/", dans.tracking_number)
    _stored(page, dans_page, dans.tracking_number)

    # Dan logs out: every page kept for him is deleted, so offline the phone shows nothing.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server.url}/")
    assert _page_caches(page) == []
    context.set_offline(True)
    for url in ("/driver/", dans_page):
        page.goto(url)
        expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
        assert dans.tracking_number not in page.content()
    context.set_offline(False)

    # Erin logs in on the same phone: her jobs, online and offline, never Dan's.
    _log_in(page, erin)
    expect(_row(page, erins)).to_be_visible()
    expect(_row(page, dans)).to_have_count(0)
    _stored(page, "/driver/", erins.tracking_number)
    context.set_offline(True)
    page.reload()
    expect(page.locator("#offline-copy")).to_be_visible()
    expect(_row(page, erins)).to_be_visible()
    assert dans.tracking_number not in page.content()
    context.set_offline(False)

    # Erin's session ends without the button (it expired); Dan logs in, and the server is
    # slower than the worker waits. Erin's copy is from before this login: never shown.
    erins_page = f"/driver/jobs/{erins.tracking_number}/"
    _stored(page, erins_page, erins.tracking_number)
    # (An answer to Erin still under way would set her CSRF cookie again under the login form.)
    page.goto("/")
    _settle(page, pending)
    context.clear_cookies()
    real = driver_views.selectors.driver_jobs_today

    def slow(**kwargs):
        time.sleep(3)
        return real(**kwargs)

    monkeypatch.setattr(driver_views.selectors, "driver_jobs_today", slow)
    page.goto("/accounts/login/?next=/driver/")
    page.get_by_label("Email address").fill(dan.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/driver/", wait_until="commit")
    assert page.evaluate("document.body ? document.body.dataset.copy : null") in (None, "live")
    assert erins.tracking_number not in page.content()
    expect(_row(page, dans)).to_be_visible()
    assert erins.tracking_number not in page.content()
    monkeypatch.setattr(driver_views.selectors, "driver_jobs_today", real)
    _stored(page, "/driver/", dans.tracking_number)
    assert len(_page_caches(page)) == 1
    assert page.evaluate(f"({STORED})({erins_page!r})") is None
    context.set_offline(True)
    page.goto(erins_page)
    expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    assert erins.tracking_number not in page.content()
    context.set_offline(False)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_slow_server_shows_the_copy_then_a_new_worker_version_takes_over(
    dan,
    job,
    phone,  # noqa: F811
    live_server,
    monkeypatch,
):
    Driver.objects.filter(pk=dan.pk).update(on_duty=False)
    first = job(Status.ASSIGNED)
    monkeypatch.setattr(driver_views, "PAGE_NETWORK_TIMEOUT_S", 1.0)
    context = phone(live_server.url)
    page = context.new_page()
    _log_in(page, dan)
    _controlled(page)
    _stored(page, "/driver/", first.tracking_number)

    # The server takes 4 s for the job list: after 1 s the phone shows its copy, marked...
    real = driver_views.selectors.driver_jobs_today

    def slow(**kwargs):
        time.sleep(4)
        return real(**kwargs)

    monkeypatch.setattr(driver_views.selectors, "driver_jobs_today", slow)
    second = _meanwhile(job, Status.ASSIGNED)
    started = time.monotonic()
    page.reload(wait_until="domcontentloaded")
    banner = page.locator("#offline-copy")
    expect(banner).to_have_text(re.compile(r"^Offline — showing jobs as of \d\d:\d\d$"))
    assert time.monotonic() - started < 3.5
    expect(_row(page, second)).to_have_count(0)
    # ...and the fresh list replaces it when the server answers.
    expect(_row(page, second)).to_be_visible(timeout=15_000)
    expect(banner).to_be_hidden()
    monkeypatch.setattr(driver_views.selectors, "driver_jobs_today", real)

    # A new version of the app: the new worker takes over at once, deletes the old caches
    # and stores the open page again in its own.
    old = {k for k in page.evaluate("caches.keys()") if k.startswith("dropmate-driver-")}
    monkeypatch.setattr(driver_views, "_asset_version", lambda shell: "v2test")
    page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    _until(
        page,
        "caches.keys().then(keys => keys.some(k => k.startsWith('dropmate-driver-pages-v2test-'))"
        " && keys.filter(k => k.startsWith('dropmate-driver-')).every(k => k.includes('-v2test')))",
    )
    assert old and not old & set(page.evaluate("caches.keys()"))
    _stored(page, "/driver/", second.tracking_number)
    context.set_offline(True)
    page.reload()
    expect(banner).to_be_visible()
    expect(_row(page, second)).to_be_visible()
    context.set_offline(False)


QUEUED = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("dropmate-driver");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains("queue")) { db.close(); resolve(0); return; }
    const count = db.transaction("queue").objectStore("queue").count();
    count.onsuccess = () => { db.close(); resolve(count.result); };
    count.onerror = () => reject(count.error);
  };
})"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_logging_out_with_unsent_changes_asks_and_the_next_driver_never_sends_them(
    dan,
    job,
    phone,  # noqa: F811
    live_server,
):
    shipment = job(Status.ASSIGNED)
    context = phone(live_server.url)
    page = context.new_page()
    _log_in(page, dan)
    page.get_by_role("link", name=shipment.tracking_number).click()
    page.wait_for_url(f"**/driver/jobs/{shipment.tracking_number}/")
    context.set_offline(True)
    page.wait_for_function("!navigator.onLine")
    page.get_by_role("button", name="Picked up", exact=True).click()
    page.wait_for_function("Number(document.body.dataset.pending || 0) === 1")

    # Log out, and think better of it: nothing is lost.
    asked: list[str] = []

    def answer(accept: bool):
        def handle(dialog):
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.once("dialog", answer(False))
    page.get_by_role("button", name="Log out").click()
    page.wait_for_timeout(500)  # the handler reads the queue before it asks
    assert asked == [
        "1 change is saved on this phone and not sent yet (you are offline). "
        "Logging out deletes it. Log out anyway?"
    ]
    assert page.url.endswith(f"/driver/jobs/{shipment.tracking_number}/")
    assert page.evaluate(QUEUED) == 1

    # Log out for real: the change is deleted from the phone before the form goes.
    with page.expect_event("framenavigated"):
        page.once("dialog", answer(True))
        page.get_by_role("button", name="Log out").click()
    assert len(asked) == 2
    context.set_offline(False)
    other = context.new_page()
    other.goto("/accounts/login/")
    assert other.evaluate(QUEUED) == 0
    # Nothing reached the server, then or later.
    assert Shipment.objects.get(pk=shipment.pk).status == Status.ASSIGNED
