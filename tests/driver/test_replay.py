"""Offline replay: every queued update is applied at most once, however often, in whatever
order and with whatever repeats the phone sends it; conflicts come back per item."""

import base64
import random
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from drivers.models import ReplayedUpdate
from shipments import services as shipment_services
from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent
from tests.driver.conftest import jpeg_bytes
from tracking.models import LocationFix

URL = "/api/v1/drivers/me/updates"

try:
    from tracking.services import fixes_ingest  # noqa: F401

    HAS_FIXES = True
except ImportError:
    HAS_FIXES = False


def _send(client, items):
    response = client.post(URL, {"items": items}, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _snapshot(shipments):
    ids = [s.pk for s in shipments]
    return {
        "shipments": list(
            Shipment.objects.filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "status", "version", "last_seq", "driver_id")
        ),
        "events": list(
            ShipmentEvent.objects.filter(shipment_id__in=ids)
            .order_by("shipment_id", "seq")
            .values_list("shipment_id", "seq", "kind", "from_status", "status", "note", "data")
        ),
        "replayed": sorted(
            ReplayedUpdate.objects.values_list("client_id", "outcome", "shipment_id")
        ),
        "fixes": sorted(LocationFix.objects.values_list("client_id", "lat", "lng", "flagged")),
    }


@pytest.fixture
def dan_client(client, dan):
    client.force_login(dan.user)
    return client


def test_a_thousand_updates_sent_three_times_shuffled_with_repeats_apply_once(
    dan_client, dan, erin, dora, job
):
    rng = random.Random(4)
    base = timezone.now() - timedelta(hours=2)
    clock = iter(range(100_000))

    def at() -> str:
        return (base + timedelta(seconds=next(clock))).isoformat()

    runners = [job(Status.ASSIGNED) for _ in range(40)]
    cancelled = [job(Status.ASSIGNED) for _ in range(3)]
    reassigned = [job(Status.ASSIGNED) for _ in range(3)]
    declined = job(Status.ASSIGNED)
    everyone = runners + cancelled + reassigned + [declined]

    items: list[dict] = []

    def status(shipment, to, **extra):
        items.append(
            {
                "client_id": str(uuid.uuid4()),
                "device_time": at(),
                "type": "status",
                "shipment": shipment.tracking_number,
                "to": to,
                **extra,
            }
        )

    for shipment in runners:
        items.append(
            {
                "client_id": str(uuid.uuid4()),
                "device_time": at(),
                "type": "accept",
                "shipment": shipment.tracking_number,
            }
        )
        for to in (Status.PICKED_UP, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY):
            status(shipment, to)
    for i, shipment in enumerate(runners):
        if i % 4 == 0:
            status(shipment, Status.FAILED_ATTEMPT, reason="not_home", note="Nobody there")
        else:
            status(shipment, Status.DELIVERED, lat=51.05, lng=3.72)
    for shipment in cancelled + reassigned:
        status(shipment, Status.PICKED_UP)
    items.append(
        {
            "client_id": str(uuid.uuid4()),
            "device_time": at(),
            "type": "decline",
            "shipment": declined.tracking_number,
            "reason": "too_far",
        }
    )
    repeats = rng.sample(items, 25)
    while len(items) + len(repeats) < 1000:
        items.append(
            {
                "client_id": str(uuid.uuid4()),
                "device_time": at(),
                "type": "fix",
                "lat": 51.05 + rng.uniform(-0.001, 0.001),
                "lng": 3.72 + rng.uniform(-0.001, 0.001),
                "accuracy_m": 8.0,
                "speed_mps": 4.0,
                "heading": 90.0,
            }
        )
    batch = items + [dict(r) for r in repeats]
    assert len(batch) == 1000

    # Meanwhile dispatch cancelled some jobs and gave others to erin.
    for shipment in cancelled:
        shipment_services.shipment_cancel(shipment=shipment, actor=dora, reason="Customer called")
    for shipment in reassigned:
        shipment_services.shipment_assign(shipment=shipment, actor=dora, driver=erin)

    first = _send(dan_client, rng.sample(batch, len(batch)))
    once = _snapshot(everyone)

    by_id = {}
    for r in first:
        by_id.setdefault(r["client_id"], []).append(r)
    # Every item answered; repeated ids answered as duplicates of their first copy.
    assert len(first) == 1000
    assert sum(r["status"] == "duplicate" for r in first) == 25

    for shipment in runners:
        fresh = Shipment.objects.get(pk=shipment.pk)
        assert fresh.status in (Status.DELIVERED, Status.FAILED_ATTEMPT)
        moves = list(
            fresh.events.filter(actor=dan.user, kind=ShipmentEvent.Kind.STATUS)
            .order_by("seq")
            .values_list("status", flat=True)
        )
        assert moves[:3] == [Status.PICKED_UP, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY]
        assert len(moves) == 4
    for shipment in cancelled + reassigned:
        fresh = Shipment.objects.get(pk=shipment.pk)
        assert fresh.status in (Status.CANCELLED, Status.ASSIGNED)
        assert not fresh.events.filter(status=Status.PICKED_UP).exists()
    conflicts = [r for r in first if r["status"] == "conflict"]
    assert len({r["client_id"] for r in conflicts}) == 6
    messages = " ".join(r["error"]["message"] for r in conflicts)
    assert "was cancelled" in messages and "was reassigned" in messages
    assert Shipment.objects.get(pk=declined.pk).status == Status.ACCEPTED

    job_ids = {i["client_id"] for i in items if i["type"] != "fix"}
    assert ReplayedUpdate.objects.filter(driver=dan).count() == len(job_ids)

    # Twice more, shuffled differently: nothing changes, everything is reported.
    for _ in range(2):
        again = _send(dan_client, rng.sample(batch, len(batch)))
        assert _snapshot(everyone) == once
        job_results = [r for r in again if r["type"] != "fix"]
        assert all(r["status"] == "duplicate" for r in job_results)
        replayed_conflicts = [r for r in job_results if r["original_status"] == "conflict"]
        assert len({r["client_id"] for r in replayed_conflicts}) == 6
        assert all(r["error"]["message"] for r in replayed_conflicts)

    fix_ids = {i["client_id"] for i in items if i["type"] == "fix"}
    if HAS_FIXES:
        assert LocationFix.objects.filter(driver=dan).count() == len(fix_ids)
    else:
        assert all(r["status"] == "rejected" for r in first if r["type"] == "fix")
    assert ReplayedUpdate.objects.filter(driver=dan).count() == len(job_ids)


def test_bad_items_are_rejected_one_by_one_not_the_batch(dan_client, job):
    shipment = job(Status.ASSIGNED)
    good = {
        "client_id": str(uuid.uuid4()),
        "device_time": timezone.now().isoformat(),
        "type": "status",
        "shipment": shipment.tracking_number,
        "to": Status.PICKED_UP,
    }
    results = _send(
        dan_client,
        [
            {"client_id": "nope", "device_time": timezone.now().isoformat(), "type": "status"},
            {"client_id": str(uuid.uuid4()), "device_time": "yesterday", "type": "status"},
            {
                "client_id": str(uuid.uuid4()),
                "device_time": timezone.now().isoformat(),
                "type": "teleport",
            },
            good,
        ],
    )
    assert [r["status"] for r in results] == ["rejected", "rejected", "rejected", "applied"]
    assert "UUID" in results[0]["error"]["message"]
    assert results[3]["shipment"]["status"] == Status.PICKED_UP


def test_someone_elses_job_is_not_found_and_reveals_nothing(dan_client, alice, erin, dora):
    from tests.factories import make_shipment

    theirs = make_shipment(customer=alice, status=Status.ASSIGNED, driver=erin, staff=dora)
    results = _send(
        dan_client,
        [
            {
                "client_id": str(uuid.uuid4()),
                "device_time": timezone.now().isoformat(),
                "type": "status",
                "shipment": theirs.tracking_number,
                "to": Status.PICKED_UP,
            }
        ],
    )
    assert results[0]["status"] == "rejected"
    assert results[0]["error"]["code"] == "not_found"
    assert results[0]["shipment"] is None
    assert Shipment.objects.get(pk=theirs.pk).status == Status.ASSIGNED


def test_delivery_with_photo_through_replay_is_stored_once(dan_client, job, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.POD_REQUIRED_SERVICE_LEVELS = ["same_day"]
    shipment = job(Status.OUT_FOR_DELIVERY, service_level="same_day")
    item = {
        "client_id": str(uuid.uuid4()),
        "device_time": timezone.now().isoformat(),
        "type": "deliver",
        "shipment": shipment.tracking_number,
        "photo": "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes(gps=(51.0, 3.7))).decode(),
        "recipient_name": "Dee",
    }
    assert _send(dan_client, [item])[0]["status"] == "applied"
    assert _send(dan_client, [item, item])[0]["status"] == "duplicate"
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.DELIVERED
    assert fresh.events.filter(status=Status.DELIVERED).count() == 1
    assert len(list((tmp_path / "pod").iterdir())) == 1


def test_a_wrong_pin_in_the_queue_is_counted_once_however_often_it_is_replayed(dan_client, pin_job):
    shipment, pin = pin_job()
    wrong = "000000" if pin != "000000" else "111111"
    item = {
        "client_id": str(uuid.uuid4()),
        "device_time": timezone.now().isoformat(),
        "type": "status",
        "shipment": shipment.tracking_number,
        "to": Status.DELIVERED,
        "pin": wrong,
    }
    for _ in range(3):
        result = _send(dan_client, [item])[0]
        assert "Wrong PIN" in result["error"]["message"]
    assert Shipment.objects.get(pk=shipment.pk).pin_failures == 1


@pytest.mark.parametrize("persona", ["alice", "dora"])
def test_only_drivers_may_replay(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(URL, {"items": []}, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_logged_out_replay_is_refused(client):
    response = client.post(URL, {"items": []}, content_type="application/json")
    assert response.status_code in (401, 403)


def test_too_many_items_are_refused_as_a_whole(dan_client, settings):
    settings.DRIVER_REPLAY_MAX_ITEMS = 2
    response = dan_client.post(URL, {"items": [{}, {}, {}]}, content_type="application/json")
    assert response.status_code == 400
    assert "at most 2" in response.json()["error"]["message"]
