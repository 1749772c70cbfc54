"""Two pages — the customer's live page and the staff fleet map — both see a driver's marker
move as fixes arrive over the driver socket, and recover after the server restarts.

The server is a real daphne subprocess on its own SQLite file (set up by subprocesses too), so
nothing here depends on the test database; tiles are off (no network)."""

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.browser import ARGS, CHROMIUM
from tests.live_server_asgi import ROOT, start_daphne, stop
from tests.realservices import free_port, unavailable

SETUP = """
import json
from tests.factories import DriverFactory, UserFactory, make_shipment
from dropmate.accounts.models import Role
from tracking.simulator import session_for
alice = UserFactory(email="alice@example.com", role=Role.CUSTOMER)
dora = UserFactory(email="dora@example.com", role=Role.DISPATCHER, is_staff=True)
dan = DriverFactory(user__first_name="Dan")
s = make_shipment(customer=alice, status="out_for_delivery", driver=dan, staff=dora)
print(json.dumps({"tracking": s.tracking_number, "driver": dan.pk,
  "alice": session_for(alice), "dora": session_for(dora), "dan": session_for(dan.user)}))
"""


def server_env(db_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        SQLITE_PATH=str(db_path),
        DJANGO_DEBUG="1",
        DROPMATE_MAP_TILE_URL="",
        TRACKING_WS_HEARTBEAT_S="5",
        PYTHONUNBUFFERED="1",
    )
    return env


def send_fix(port: int, session: str, lat: float, lng: float) -> str:
    from websockets.sync.client import connect

    with connect(
        f"ws://127.0.0.1:{port}/ws/driver/",
        additional_headers={"Cookie": f"sessionid={session}", "Origin": f"http://127.0.0.1:{port}"},
        open_timeout=10,
    ) as ws:
        fix = {
            "client_id": str(uuid.uuid4()),
            "device_time": datetime.now(UTC).isoformat(),
            "lat": lat,
            "lng": lng,
            "accuracy_m": 8,
        }
        ws.send(json.dumps({"type": "fix", "data": fix}))
        while True:
            frame = json.loads(ws.recv(timeout=10))
            if frame["type"] == "fix_ack":
                return frame["data"]["status"]


@pytest.mark.browser
def test_customer_and_fleet_pages_follow_a_driver_and_recover_after_restart(tmp_path):
    if not Path(CHROMIUM).exists():
        unavailable("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    db_path = tmp_path / "live.sqlite3"
    env = server_env(db_path)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)
    out = subprocess.run(
        [*manage, "shell", "-c", SETUP],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_daphne(env, port, log=tmp_path / "daphne.log")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            pages = {}
            for who, path in (
                ("alice", f"/live/{data['tracking']}/"),
                ("dora", "/staff/fleet/"),
            ):
                context = browser.new_context()
                context.add_cookies([{"name": "sessionid", "value": data[who], "url": base}])
                page = context.new_page()
                page.goto(base + path)
                expect(page.locator("[data-live-status]")).to_have_attribute(
                    "data-state", "live", timeout=10000
                )
                pages[who] = page
            customer_driver = pages["alice"].locator('[data-live-field="driver"]')
            fleet_row = pages["dora"].locator(f'[data-driver="{data["driver"]}"]')

            def both_show(lat: float) -> None:
                expect(customer_driver).to_have_attribute("data-lat", str(lat), timeout=10000)
                expect(fleet_row).to_have_attribute("data-lat", str(lat), timeout=10000)

            def markers_at(lat: float) -> None:
                for page, js in (
                    (pages["alice"], "() => window.dropmateShipmentMap.driver.getLatLng().lat"),
                    (
                        pages["dora"],
                        f"() => window.dropmateFleet.markers[{data['driver']}].getLatLng().lat",
                    ),
                ):
                    page.wait_for_function(
                        f"() => Math.abs(({js})() - {lat}) < 1e-6", timeout=10000
                    )

            assert send_fix(port, data["dan"], 51.0450, 3.7200) == "accepted"
            both_show(51.045)
            markers_at(51.045)
            time.sleep(1.1)
            assert send_fix(port, data["dan"], 51.0452, 3.7201) == "accepted"
            both_show(51.0452)
            markers_at(51.0452)

            # The server goes away: both pages say so, then recover when it is back.
            stop(server)
            for page in pages.values():
                expect(page.locator("[data-live-status]")).not_to_have_attribute(
                    "data-state", "live", timeout=10000
                )
            server = start_daphne(env, port, log=tmp_path / "daphne.log")
            for page in pages.values():
                expect(page.locator("[data-live-status]")).to_have_attribute(
                    "data-state", "live", timeout=40000
                )
            time.sleep(1.1)
            assert send_fix(port, data["dan"], 51.0454, 3.7202) == "accepted"
            both_show(51.0454)
            markers_at(51.0454)
            browser.close()
    finally:
        stop(server)
