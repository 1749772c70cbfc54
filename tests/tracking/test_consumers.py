"""The three sockets, driven with WebsocketCommunicator on the in-memory layer and on the
Redis pub/sub layer: authorisation, bad frames, catch-up, fixes, privacy, coalescing."""

import itertools
import json
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.utils import timezone

from drivers.models import DriverMessage
from shipments import services
from shipments.lifecycle import Status
from tests.factories import DriverFactory
from tests.tracking.conftest import fix_at
from tests.tracking.wsclient import Socket
from tracking import broadcast
from tracking.buffer import buffer
from tracking.models import LocationFix

pytestmark = pytest.mark.django_db(transaction=True)

run = async_to_sync
db = database_sync_to_async


def ws_shipment(shipment) -> str:
    return f"/ws/shipments/{shipment.tracking_number}/"


# --- authorisation ---------------------------------------------------------------------------


def test_anonymous_is_refused_on_every_socket(layer, shipment_in):
    shipment = shipment_in(Status.IN_TRANSIT)

    async def scenario():
        for path in (ws_shipment(shipment), "/ws/fleet/", "/ws/driver/"):
            sock = await Socket(None, path).open()
            error = await sock.next()
            assert error["type"] == "error" and error["data"]["details"]["close_code"] == 4401
            assert await sock.next() == {"closed": 4401}
            await sock.close()

    run(scenario)()


def test_customer_cannot_join_another_customers_shipment(layer, shipment_in, bob, erin):
    shipment = shipment_in(Status.IN_TRANSIT)

    async def scenario():
        for user in (bob, erin.user):
            sock = await Socket(user, ws_shipment(shipment)).open()
            assert (await sock.until("error"))["data"]["message"] == "No such shipment."
            assert await sock.next() == {"closed": 4404}
            await sock.close()
        # An unknown number looks the same.
        sock = await Socket(bob, "/ws/shipments/DM-0000-0000/").open()
        assert (await sock.frames(0.3))[-1] == {"closed": 4404}
        await sock.close()

    run(scenario)()


def test_fleet_is_staff_only_and_driver_socket_is_drivers_only(layer, alice, dan):
    async def scenario():
        for user, path in ((alice, "/ws/fleet/"), (dan.user, "/ws/fleet/"), (alice, "/ws/driver/")):
            sock = await Socket(user, path).open()
            assert (await sock.frames(0.3))[-1] == {"closed": 4403}
            await sock.close()

    run(scenario)()


def test_driver_taken_off_a_shipment_loses_its_socket(layer, shipment_in, dan, dora):
    shipment = shipment_in(Status.ASSIGNED)
    fred = DriverFactory()

    async def scenario():
        sock = await Socket(dan.user, ws_shipment(shipment)).open()
        await db(services.shipment_assign)(shipment=shipment, actor=dora, driver=fred)
        frame = await sock.until("shipment_assigned")
        assert frame["data"]["status"] == Status.ASSIGNED
        assert (await sock.frames(0.5))[-1] == {"closed": 4404}
        await sock.close()

    run(scenario)()


# --- events and catch-up ---------------------------------------------------------------------


def test_watchers_get_status_changes_with_seq(layer, shipment_in, alice, dan, dora):
    shipment = shipment_in(Status.IN_TRANSIT)

    async def scenario():
        watchers = [
            await Socket(alice, ws_shipment(shipment)).open(),
            await Socket(dora, ws_shipment(shipment)).open(),
            await Socket(dora, "/ws/fleet/").open(),
            await Socket(dan.user, "/ws/driver/").open(),
        ]
        await db(services.shipment_transition)(
            shipment=shipment, to=Status.OUT_FOR_DELIVERY, actor=dan.user
        )
        for sock in watchers:
            frame = await sock.until("shipment_updated")
            assert frame["seq"] == shipment.last_seq + 1
            assert frame["data"]["status"] == Status.OUT_FOR_DELIVERY
            await sock.close()

    run(scenario)()


def test_catch_up_after_a_gap_sends_exactly_the_missed_events(layer, shipment_in, alice, dan):
    shipment = shipment_in(Status.PICKED_UP)
    seen = shipment.last_seq

    async def scenario():
        # Away while two things happen.
        for to in (Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY):
            await db(services.shipment_transition)(shipment=shipment, to=to, actor=dan.user)
        sock = await Socket(alice, ws_shipment(shipment)).open()
        await sock.send("subscribe", {"after": seen})
        frames = [f for f in await sock.frames(0.5) if f.get("seq") is not None]
        assert [f["seq"] for f in frames] == [seen + 1, seen + 2]
        assert [f["data"]["status"] for f in frames] == [Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY]
        await sock.close()

    run(scenario)()


def test_catch_up_sends_a_snapshot_when_too_far_behind_or_ahead(
    layer, shipment_in, alice, settings
):
    settings.TRACKING_CATCH_UP_MAX_EVENTS = 3
    shipment = shipment_in(Status.IN_TRANSIT)

    async def scenario():
        sock = await Socket(alice, ws_shipment(shipment)).open()
        for after in (0, shipment.last_seq + 50):
            await sock.send("subscribe", {"after": after})
            snapshot = await sock.until("snapshot")
            assert snapshot["seq"] == shipment.last_seq
            assert snapshot["data"]["status"] == Status.IN_TRANSIT
            assert snapshot["data"]["position"] is None  # not out for delivery yet
        await sock.close()

    run(scenario)()


# --- bad frames ------------------------------------------------------------------------------


def test_bad_frames_get_error_frames_and_the_socket_lives_on(layer, shipment_in, alice, settings):
    shipment = shipment_in(Status.IN_TRANSIT)
    settings.TRACKING_WS_MAX_FRAME_BYTES = 1000

    async def scenario():
        sock = await Socket(alice, ws_shipment(shipment)).open()
        cases = [
            ({"text": "{not json"}, "bad_json"),
            ({"text": "[1, 2]"}, "bad_message"),
            ({"text": json.dumps({"type": "subscribe", "data": [1]})}, "bad_message"),
            ({"text": json.dumps({"type": "subscribe", "data": {"after": "x"}})}, "bad_message"),
            ({"text": json.dumps({"type": "launch_rockets"})}, "unknown_type"),
            ({"text": json.dumps({"type": "ping", "pad": "x" * 2000})}, "too_large"),
            ({"data": b"\x00\x01"}, "binary"),
        ]
        for frame, code in cases:
            await sock.raw(**frame)
            error = await sock.until("error")
            assert error["data"]["code"] == code, frame
        await sock.send("ping")
        assert (await sock.next())["type"] == "pong"
        await sock.close()

    run(scenario)()


# --- fixes over the driver socket ------------------------------------------------------------


def test_driver_socket_acks_every_fix_and_stores_only_good_ones(layer, dan):
    good = fix_at(51.0500, 3.7200, seconds_ago=20)
    out_of_range = fix_at(123.0, 3.72)
    far_future = fix_at(51.05, 3.72, seconds_ago=-3600)
    teleport = fix_at(40.4168, -3.7038)  # Madrid, 20 s later

    async def scenario():
        sock = await Socket(dan.user, "/ws/driver/").open()
        statuses = []
        for fix in (good, good, out_of_range, far_future, teleport):
            await sock.send("fix", fix)
            ack = await sock.until("fix_ack")
            assert ack["data"]["client_id"] == fix["client_id"]
            statuses.append(ack["data"]["status"])
            if ack["data"]["status"] == "rejected":
                assert (await sock.next())["data"]["code"] == "invalid_fix"
        assert statuses == ["accepted", "duplicate", "rejected", "rejected", "flagged"]
        await sock.send("fix", {"lat": "nope"})
        assert (await sock.until("fix_ack"))["data"]["status"] == "rejected"
        await sock.close()

    run(scenario)()
    buffer.flush()
    rows = {str(f.client_id): f.flagged for f in LocationFix.objects.filter(driver=dan)}
    assert rows == {good["client_id"]: False, teleport["client_id"]: True}
    dan.refresh_from_db()
    assert (dan.last_lat, dan.last_lng) == (51.0500, 3.7200)


def test_dispatch_message_reaches_the_drivers_socket(layer, dan, erin, dora):
    async def scenario():
        mine = await Socket(dan.user, "/ws/driver/").open()
        other = await Socket(erin.user, "/ws/driver/").open()
        msg = await db(DriverMessage.objects.create)(driver=dan, sender=dora, body="Gate code 4711")
        await db(broadcast.driver_message_push)(message_id=msg.pk)
        frame = await mine.until("driver_message")
        assert frame["data"]["body"] == "Gate code 4711" and frame["data"]["id"] == msg.pk
        assert [f for f in await other.frames(0.3) if f.get("type") == "driver_message"] == []
        await mine.close()
        await other.close()

    run(scenario)()


# --- privacy over the socket -----------------------------------------------------------------


def test_customer_sees_the_driver_only_when_their_stop_is_next(layer, alice, bob, dan, dora):
    from tests.factories import make_shipment

    # Two drop-offs on dan's round: bob's is nearer to where dan is, so it comes first.
    alices = make_shipment(customer=alice, status=Status.OUT_FOR_DELIVERY, driver=dan, staff=dora)
    bobs = make_shipment(
        customer=bob,
        status=Status.OUT_FOR_DELIVERY,
        driver=dan,
        staff=dora,
        dropoff_lat=51.0400,
        dropoff_lng=3.7100,
    )

    async def scenario():
        alice_sock = await Socket(alice, ws_shipment(alices)).open()
        bob_sock = await Socket(bob, ws_shipment(bobs)).open()
        staff_sock = await Socket(dora, ws_shipment(alices)).open()
        sock = await Socket(dan.user, "/ws/driver/").open()
        await sock.send("fix", fix_at(51.0410, 3.7110, seconds_ago=120))
        assert (await sock.until("fix_ack"))["data"]["status"] == "accepted"
        assert (await bob_sock.until("location"))["data"]["lat"] == 51.0410
        assert (await staff_sock.until("location"))["data"]["lat"] == 51.0410
        assert [f for f in await alice_sock.frames(0.4) if f.get("type") == "location"] == []
        # Bob's parcel is delivered: alice's stop is next and she sees dan from now on.
        await db(services.shipment_transition)(shipment=bobs, to=Status.DELIVERED, actor=dan.user)
        await sock.send("fix", fix_at(51.0450, 3.7150))
        assert (await alice_sock.until("location"))["data"]["lat"] == 51.0450
        assert [f for f in await bob_sock.frames(0.4) if f.get("type") == "location"] == []
        for s in (alice_sock, bob_sock, staff_sock, sock):
            await s.close()

    run(scenario)()


# --- fleet coalescing ------------------------------------------------------------------------


def test_fleet_gets_coalesced_positions_at_most_once_a_second(layer, dora, settings):
    settings.TRACKING_FLEET_COALESCE_S = 0.5
    drivers = [DriverFactory() for _ in range(3)]

    async def scenario():
        fleet = await Socket(dora, "/ws/fleet/").open()
        socks = [await Socket(d.user, "/ws/driver/").open() for d in drivers]
        for step in range(5):
            for n, sock in enumerate(socks):
                await sock.send(
                    "fix", fix_at(51.05 + step * 0.0001, 3.72 + n * 0.01, seconds_ago=5 - step)
                )
                await sock.until("fix_ack")
        frames = [f for f in await fleet.frames(1.2) if f.get("type") == "fleet_positions"]
        # 15 fixes in well under a second: one or two frames, not fifteen.
        assert 1 <= len(frames) <= 3
        latest = {}
        for frame in frames:
            for p in frame["data"]["positions"]:
                latest[p["driver_id"]] = p
        assert set(latest) == {d.pk for d in drivers}
        assert all(p["lat"] == pytest.approx(51.0504) for p in latest.values())
        times = [timezone.datetime.fromisoformat(f["ts"]) for f in frames]
        assert all((b - a) >= timedelta(seconds=0.45) for a, b in itertools.pairwise(times))
        for s in (fleet, *socks):
            await s.close()

    run(scenario)()


def test_fleet_snapshot_lists_on_duty_drivers_with_state(layer, dora, shipment_in, dan):
    shipment_in(Status.OUT_FOR_DELIVERY)
    from tracking.services import fixes_ingest

    fixes_ingest(driver=dan, fixes=[fix_at(51.05, 3.72)])

    async def scenario():
        fleet = await Socket(dora, "/ws/fleet/").open()
        await fleet.send("subscribe")
        snap = await fleet.until("fleet_snapshot")
        [row] = [d for d in snap["data"]["drivers"] if d["driver_id"] == dan.pk]
        assert row["state"] == "delivering" and row["position"]["lat"] == 51.05
        assert len(snap["data"]["shipments"]) == 1
        await fleet.close()

    run(scenario)()


# --- heartbeat and capacity ------------------------------------------------------------------


def test_silent_socket_is_closed_by_the_heartbeat(layer, dora, settings):
    settings.TRACKING_WS_HEARTBEAT_S = 0.1

    async def scenario():
        sock = await Socket(dora, "/ws/fleet/").open()
        out = []
        while not out or "closed" not in out[-1]:
            raw = await sock._output(2)
            out.append(
                {"closed": raw.get("code")}
                if raw["type"] == "websocket.close"
                else json.loads(raw["text"])
            )
        assert out[0]["type"] == "ping"
        assert out[-1] == {"closed": 4408}
        await sock.close()

    run(scenario)()


def test_answering_pings_keeps_the_socket_open(layer, dora, settings):
    settings.TRACKING_WS_HEARTBEAT_S = 0.1

    async def scenario():
        sock = await Socket(dora, "/ws/fleet/").open()
        for _ in range(6):
            raw = await sock._output(2)
            assert json.loads(raw["text"])["type"] == "ping"
            await sock.send("pong")
        await sock.close()

    run(scenario)()


def test_server_at_capacity_refuses_with_4429(layer, dora, settings):
    settings.TRACKING_WS_MAX_CONNECTIONS = 0

    async def scenario():
        sock = await Socket(dora, "/ws/fleet/").open()
        assert (await sock.frames(0.3))[-1] == {"closed": 4429}
        await sock.close()

    run(scenario)()


def test_unknown_uuid_shape_in_fix_is_rejected_not_crashing(layer, dan):
    async def scenario():
        sock = await Socket(dan.user, "/ws/driver/").open()
        await sock.send("fix", {**fix_at(51.05, 3.72), "client_id": uuid.uuid4().hex[:7]})
        assert (await sock.until("fix_ack"))["data"]["status"] == "rejected"
        await sock.close()

    run(scenario)()


def test_driver_socket_sheds_fixes_past_its_rate_and_when_busy(layer, dan, settings):
    settings.TRACKING_WS_MAX_FIX_RATE = 2

    async def scenario():
        sock = await Socket(dan.user, "/ws/driver/").open()
        statuses = []
        for n in range(3):
            await sock.send("fix", fix_at(51.05 + n * 0.00001, 3.72, seconds_ago=3 - n))
            ack = await sock.until("fix_ack")
            statuses.append((ack["data"]["status"], ack["data"]["error"] or ""))
        assert [s for s, _ in statuses] == ["accepted", "accepted", "rejected"]
        assert "Too many fixes" in statuses[2][1]
        settings.TRACKING_WS_MAX_FIX_RATE = 100
        settings.TRACKING_WS_MAX_INFLIGHT_FIXES = 0
        await sock.send("fix", fix_at(51.05, 3.72))
        ack = await sock.until("fix_ack")
        assert ack["data"]["status"] == "rejected" and "busy" in ack["data"]["error"]
        await sock.close()

    run(scenario)()
    buffer.flush()
    assert LocationFix.objects.filter(driver=dan).count() == 2
