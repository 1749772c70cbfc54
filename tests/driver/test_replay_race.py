"""Two copies of the same queued batch arriving at once (a retry racing the original) on
PostgreSQL: each update is still applied exactly once."""

import threading
import uuid

import pytest
from django.db import connections
from django.utils import timezone

from drivers.models import ReplayedUpdate
from drivers.replay import updates_replay
from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.realservices import require_postgres


@pytest.mark.django_db(transaction=True)
def test_racing_copies_of_a_batch_apply_each_update_once(dan, job):
    require_postgres()
    shipments = [job(Status.ASSIGNED) for _ in range(5)]
    now = timezone.now()
    items = [
        {
            "client_id": str(uuid.uuid4()),
            "device_time": (now.replace(microsecond=0)).isoformat(),
            "seq": n,
            "type": "status",
            "shipment": s.tracking_number,
            "to": Status.PICKED_UP,
        }
        for n, s in enumerate(shipments)
    ]
    barrier = threading.Barrier(4)
    results: list = [None] * 4

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = updates_replay(driver=dan, items=list(reversed(items)) if i % 2 else items)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert all(isinstance(r, list) for r in results), results
    for item in items:
        statuses = [
            next(r["status"] for r in res if r["client_id"] == item["client_id"]) for res in results
        ]
        assert statuses.count("applied") == 1, statuses
        assert set(statuses) <= {"applied", "duplicate"}, statuses
    for s in shipments:
        fresh = Shipment.objects.get(pk=s.pk)
        assert fresh.status == Status.PICKED_UP
        assert fresh.events.filter(status=Status.PICKED_UP).count() == 1
    assert ReplayedUpdate.objects.filter(driver=dan).count() == len(items)
