"""What the dispatch console does reaches the live sockets: a second dispatcher's fleet socket
and the assigned driver's own socket (real consumers, in-memory layer and Redis pub/sub)."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client
from django.urls import reverse

from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.tracking.conftest import layer  # noqa: F401  (the layer fixture, both kinds)
from tests.tracking.wsclient import Socket

pytestmark = pytest.mark.django_db(transaction=True)


def test_accept_and_assign_from_the_console_reach_the_fleet_and_the_driver(
    layer,  # noqa: F811
    shipment_in,
    dora,
    ada,
    erin,
):
    paid = shipment_in(Status.PENDING_REVIEW)
    console = Client()
    console.force_login(dora)

    def accept():
        fresh = Shipment.objects.get(pk=paid.pk)
        data = {"tracking_number": fresh.tracking_number, "version": fresh.version}
        return console.post(reverse("staff-console-accept"), data).status_code

    def assign():
        fresh = Shipment.objects.get(pk=paid.pk)
        data = {"shipments": [f"{fresh.tracking_number}@{fresh.version}"], "driver": erin.pk}
        return console.post(reverse("staff-console-assign"), data).status_code

    async def scenario():
        other_dispatcher = await Socket(ada, "/ws/fleet/").open()
        driver = await Socket(erin.user, "/ws/driver/").open()
        assert await sync_to_async(accept)() in (200, 302)
        accepted = await other_dispatcher.until("shipment_updated", timeout=5)
        assert accepted["data"]["tracking_number"] == paid.tracking_number
        assert accepted["data"]["status"] == Status.ACCEPTED
        assert await sync_to_async(assign)() in (200, 302)
        assigned = await other_dispatcher.until("shipment_assigned", timeout=5)
        assert assigned["data"]["status"] == Status.ASSIGNED
        assert assigned["seq"] == accepted["seq"] + 1
        offered = await driver.until("shipment_assigned", timeout=5)
        assert offered["data"]["tracking_number"] == paid.tracking_number
        await other_dispatcher.close()
        await driver.close()

    async_to_sync(scenario)()
    fresh = Shipment.objects.get(pk=paid.pk)
    assert (fresh.status, fresh.driver_id) == (Status.ASSIGNED, erin.pk)
