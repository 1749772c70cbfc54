"""The socket hot path (tracking.services.live) and the live store (tracking.cache): the
same rules as the HTTP path, shared dedupe across both, the plan's order for privacy, duty
changes heard at once, and the store's claim/newest semantics on memory and on Redis."""

import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.utils import timezone

from drivers.models import Route, RouteStop
from drivers.services import driver_duty_set
from shipments.lifecycle import Status
from tests.factories import make_shipment
from tests.tracking.conftest import fix_at
from tests.tracking.wsclient import Socket
from tracking import cache as live
from tracking.buffer import buffer
from tracking.models import LocationFix
from tracking.services import fixes_ingest

pytestmark = pytest.mark.django_db(transaction=True)
run = async_to_sync
db = database_sync_to_async


def test_a_fix_sent_over_http_is_a_duplicate_on_the_socket_and_back(layer, dan):
    over_http = fix_at(51.05, 3.72, seconds_ago=30)
    over_socket = fix_at(51.0501, 3.72, seconds_ago=20)
    [first] = fixes_ingest(driver=dan, fixes=[over_http])
    assert first["status"] == "accepted"

    async def scenario():
        sock = await Socket(dan.user, "/ws/driver/").open()
        for fix, expected in ((over_http, "duplicate"), (over_socket, "accepted")):
            await sock.send("fix", fix)
            assert (await sock.until("fix_ack"))["data"]["status"] == expected
        await sock.close()

    run(scenario)()
    # The socket's fix is still in the buffer, and HTTP already knows it.
    [again] = fixes_ingest(driver=dan, fixes=[over_socket])
    assert again["status"] == "duplicate"
    buffer.flush()
    assert LocationFix.objects.filter(driver=dan).count() == 2


def test_the_route_plan_decides_whose_stop_is_next(layer, alice, bob, dan, dora):
    # Bob's drop-off is nearer, but the plan visits alice first: she sees dan, bob doesn't.
    alices = make_shipment(customer=alice, status=Status.OUT_FOR_DELIVERY, driver=dan, staff=dora)
    bobs = make_shipment(
        customer=bob,
        status=Status.OUT_FOR_DELIVERY,
        driver=dan,
        staff=dora,
        dropoff_lat=51.0400,
        dropoff_lng=3.7100,
    )
    now = timezone.now()
    route = Route.objects.create(driver=dan, date=timezone.localdate(), planned_at=now)
    for position, shipment in enumerate((alices, bobs)):
        RouteStop.objects.create(
            route=route,
            position=position,
            shipment=shipment,
            kind=RouteStop.Kind.DROPOFF,
            lat=shipment.dropoff_lat,
            lng=shipment.dropoff_lng,
            planned_arrival=now + timedelta(minutes=10 * (position + 1)),
            planned_start=now + timedelta(minutes=10 * (position + 1)),
            planned_departure=now + timedelta(minutes=10 * (position + 1) + 3),
        )

    async def scenario():
        alice_sock = await Socket(alice, f"/ws/shipments/{alices.tracking_number}/").open()
        bob_sock = await Socket(bob, f"/ws/shipments/{bobs.tracking_number}/").open()
        sock = await Socket(dan.user, "/ws/driver/").open()
        await sock.send("fix", fix_at(51.0410, 3.7110, seconds_ago=60))
        assert (await sock.until("fix_ack"))["data"]["status"] == "accepted"
        assert (await alice_sock.until("location"))["data"]["lat"] == 51.0410
        assert [f for f in await bob_sock.frames(0.4) if f.get("type") == "location"] == []
        for s in (alice_sock, bob_sock, sock):
            await s.close()

    run(scenario)()


def test_going_off_duty_reaches_the_socket_and_its_next_fix_is_refused(layer, dan):
    async def scenario():
        sock = await Socket(dan.user, "/ws/driver/").open()
        await sock.send("fix", fix_at(51.05, 3.72, seconds_ago=10))
        assert (await sock.until("fix_ack"))["data"]["status"] == "accepted"
        await db(driver_duty_set)(driver=dan, on_duty=False)
        assert (await sock.until("duty_updated"))["data"] == {"on_duty": False}
        await sock.send("fix", fix_at(51.0501, 3.72, seconds_ago=5))
        ack = await sock.until("fix_ack")
        assert ack["data"]["status"] == "rejected" and "off duty" in ack["data"]["error"]
        await sock.close()

    run(scenario)()


@pytest.fixture(params=["memory", "redis"])
def store(request, settings):
    if request.param == "redis":
        from tests.realservices import redis_url

        settings.REDIS_URL = redis_url()
    else:
        settings.REDIS_URL = ""
    return request.param


def _position(seconds_ago: float, lat: float = 51.05) -> dict:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    return {"lat": lat, "lng": 3.72, "accuracy_m": 5.0, "at": at.isoformat()}


def test_claim_is_once_and_only_a_newer_position_becomes_the_latest(store):
    claim = async_to_sync(live.fix_claim)
    newer, older = _position(10, lat=51.1), _position(60, lat=51.0)
    first = str(uuid.uuid4())
    assert claim(7, first, newer) == live.NEWEST
    assert claim(7, first, newer) == live.DUPLICATE
    assert claim(7, str(uuid.uuid4()), older) == live.CLAIMED  # history, not the position
    assert live.latest_get(7)["lat"] == 51.1
    assert claim(8, first, None) == live.CLAIMED  # another driver's id space
    assert live.latest_get(8) is None
    # The HTTP path's store refuses to go back in time too.
    assert live.latest_set(7, older) is False
    assert live.latest_set(7, _position(1, lat=51.2)) is True
    got = live.latest_get_many([7, 8, 9])
    assert set(got) == {7} and got[7]["lat"] == 51.2


def test_fixes_publish_from_the_claim_script_only_on_our_layer_on_the_same_redis(settings):
    from channels.layers import InMemoryChannelLayer

    from dropmate.layers import PipelinedPubSubChannelLayer

    settings.REDIS_URL = "redis://127.0.0.1:6379/3"
    same = PipelinedPubSubChannelLayer(hosts=["redis://127.0.0.1:6379/0"])
    other = PipelinedPubSubChannelLayer(hosts=[{"address": "redis://127.0.0.1:6380"}])
    assert live.publishes_with_claims(same)  # pub/sub ignores the database number
    assert not live.publishes_with_claims(other)
    assert not live.publishes_with_claims(InMemoryChannelLayer())
    settings.REDIS_URL = ""
    assert not live.publishes_with_claims(same)


def test_the_store_remembers_a_window_of_fixes_and_older_replays_are_checked_in_history(
    store, settings, dan
):
    # The live store keeps a fix's claim for TRACKING_FIX_DEDUP_WINDOW_S only (Redis memory
    # grows with the window, not with TRACKING_FIX_MAX_AGE_S); a fix replayed later than that
    # is recognised by the history table instead.
    settings.TRACKING_FIX_DEDUP_WINDOW_S = 120
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    fresh = fix_at(51.05, 3.72, seconds_ago=10)
    late = fix_at(51.0501, 3.72, seconds_ago=600)  # older than the window: an offline replay
    assert not live.dedup_needs_history(10) and live.dedup_needs_history(600)
    if store == "redis":
        assert live.seen_claim(dan.pk, "probe") is True
        ttl = live._sync_client().ttl(live.seen_key(dan.pk, "probe"))
        assert 0 < ttl <= 120

    async def send_all(*fixes):
        sock = await Socket(dan.user, "/ws/driver/").open()
        statuses = []
        for fix in fixes:
            await sock.send("fix", fix)
            statuses.append((await sock.until("fix_ack"))["data"]["status"])
        await sock.close()
        return statuses

    assert run(send_all)(fresh, late) == ["accepted", "accepted"]
    buffer.flush()
    # Both claims expire from the store (as they would after the window)...
    live.seen_release([(dan.pk, fresh["client_id"]), (dan.pk, late["client_id"])])
    # ...the late one is still known (history); a young one is trusted to the store.
    assert run(send_all)(late) == ["duplicate"]
    assert LocationFix.objects.filter(driver=dan, client_id=late["client_id"]).count() == 1
    # Over HTTP every fix is checked in history, whatever its age.
    [again] = fixes_ingest(driver=dan, fixes=[fresh])
    assert again["status"] == "duplicate"
    buffer.flush()
    assert LocationFix.objects.filter(driver=dan).count() == 2
