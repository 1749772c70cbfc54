"""Pushes leave only after commit: a rolled-back transition sends nothing. Runs on whichever
channel layer is configured (in-memory, or Redis pub/sub in CI)."""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from shipments import services
from shipments.lifecycle import Status
from tracking import broadcast


async def _drain(layer, channel: str, wait: float = 0.5) -> list[dict]:
    received = []
    while True:
        try:
            received.append(await asyncio.wait_for(layer.receive(channel), timeout=wait))
        except TimeoutError:
            return received


def watch(group: str, action) -> list[dict]:
    """Join `group`, run `action` (sync, may use the database) and return what arrived."""

    async def main():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            await sync_to_async(action)()
            return await _drain(layer, channel)
        finally:
            await layer.group_discard(group, channel)

    return async_to_sync(main)()


@pytest.mark.django_db(transaction=True)
def test_transition_pushes_after_commit(shipment_in, dora):
    shipment = shipment_in(Status.PENDING_REVIEW)

    def accept():
        with transaction.atomic():
            services.shipment_transition(shipment=shipment, to=Status.ACCEPTED, actor=dora)

    after = watch(broadcast.shipment_group(shipment.tracking_number), accept)
    assert len(after) == 1
    frame = after[0]["message"]
    assert frame["type"] == "shipment_updated"
    assert frame["data"]["status"] == Status.ACCEPTED
    assert frame["seq"] == shipment.last_seq + 1
    assert frame["data"]["version"] == shipment.version + 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transition_pushes_nothing_and_leaves_no_event(shipment_in, dora):
    shipment = shipment_in(Status.PENDING_REVIEW)
    events_before = shipment.events.count()

    class Boom(Exception):
        pass

    def accept_then_fail():
        with pytest.raises(Boom), transaction.atomic():
            services.shipment_transition(shipment=shipment, to=Status.ACCEPTED, actor=dora)
            raise Boom

    after = watch(broadcast.shipment_group(shipment.tracking_number), accept_then_fail)
    assert after == []
    shipment.refresh_from_db()
    assert shipment.status == Status.PENDING_REVIEW
    assert shipment.events.count() == events_before


def test_push_waits_for_commit(shipment_in, dora, django_capture_on_commit_callbacks):
    shipment = shipment_in(Status.PENDING_REVIEW)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.shipment_transition(shipment=shipment, to=Status.ACCEPTED, actor=dora)
    # Scheduled for the commit, not sent inline: the push, and the notification send.
    assert sorted(cb.func.__name__ for cb in callbacks) == ["enqueue", "shipment_event_push"]
