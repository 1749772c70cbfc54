"""Two dispatchers assign the same shipment at the same moment, on PostgreSQL: exactly one
assignment is made and one event goes out; the other dispatcher reads a conflict message."""

import asyncio
import threading

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connections
from django.test import Client
from django.urls import reverse

from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent
from tests.factories import DriverFactory
from tests.realservices import require_postgres, unavailable
from tracking.broadcast import FLEET_GROUP


class FleetListener(threading.Thread):
    """Watches the fleet group the way the dispatch console's socket does, in its own loop."""

    def __init__(self, seconds: float) -> None:
        super().__init__(daemon=True)
        self.seconds = seconds
        self.ready = threading.Event()
        self.frames: list[dict] = []

    def run(self) -> None:
        asyncio.run(self._listen())

    async def _listen(self) -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(FLEET_GROUP, channel)
        self.ready.set()
        try:
            async with asyncio.timeout(self.seconds):
                while True:
                    self.frames.append((await layer.receive(channel))["message"])
        except TimeoutError:
            pass
        finally:
            await layer.group_discard(FLEET_GROUP, channel)


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_assigning_at_once_make_one_assignment(
    shipment_in, dora, ada, dan, password
):
    require_postgres()
    if not settings.REDIS_URL:
        unavailable("this test counts fleet frames on the Redis channel layer: set REDIS_URL")
    shipment = shipment_in(Status.ACCEPTED)
    drivers = [dan, DriverFactory(user__first_name="Erin")]
    choice = f"{shipment.tracking_number}@{shipment.version}"
    clients = []
    for user in (dora, ada):
        client = Client()
        assert client.login(email=user.email, password=password)
        clients.append(client)

    listener = FleetListener(seconds=4)
    listener.start()
    assert listener.ready.wait(5)

    barrier = threading.Barrier(2)
    results: list = [None, None]

    def assign(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            response = clients[i].post(
                reverse("staff-console-assign"), {"shipments": [choice], "driver": drivers[i].pk}
            )
            results[i] = [str(m) for m in get_messages(response.wsgi_request)]
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=assign, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert all(isinstance(r, list) and len(r) == 1 for r in results), results
    messages = [r[0] for r in results]
    wins = [m for m in messages if " assigned to " in m]
    conflicts = [m for m in messages if "changed meanwhile" in m]
    assert len(wins) == 1 and len(conflicts) == 1, messages
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.ASSIGNED
    assert fresh.version == shipment.version + 1
    events = fresh.events.filter(kind=ShipmentEvent.Kind.ASSIGNMENT)
    assert events.count() == 1
    assert fresh.driver_id == events.get().data["driver_id"]

    listener.join(timeout=10)
    assigned = [
        f for f in listener.frames if f["data"]["tracking_number"] == shipment.tracking_number
    ]
    assert [f["type"] for f in assigned] == ["shipment_assigned"]
    assert assigned[0]["data"]["version"] == fresh.version
