"""The pipelined pub/sub channel layer, against a real Redis: a burst of group sends is
delivered whole and in order, in fewer round trips than messages; processes on the parent
layer and ours understand each other."""

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels_redis.pubsub import RedisPubSubChannelLayer

from dropmate.layers import PipelinedPubSubChannelLayer
from tests.realservices import redis_url


@pytest.fixture
def hosts():
    return [redis_url()]


def test_a_burst_is_delivered_in_order_in_fewer_pipelines_than_messages(hosts):
    layer = PipelinedPubSubChannelLayer(hosts=hosts, prefix=f"lt-{uuid.uuid4().hex[:8]}")

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("watchers", channel)
        await asyncio.gather(
            *(layer.group_send("watchers", {"type": "t", "n": n}) for n in range(300))
        )
        got = [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(300)]
        publisher, _ = layer.publisher("watchers")
        await layer.flush()
        return got, publisher.pipelines

    got, pipelines = async_to_sync(scenario)()
    assert got == list(range(300))
    assert 1 <= pipelines < 300


def test_messages_cross_between_the_parent_layer_and_ours(hosts):
    prefix = f"lt-{uuid.uuid4().hex[:8]}"
    ours = PipelinedPubSubChannelLayer(hosts=hosts, prefix=prefix)
    theirs = RedisPubSubChannelLayer(hosts=hosts, prefix=prefix)

    async def scenario():
        channel = await theirs.new_channel()
        await theirs.group_add("g", channel)
        await ours.group_send("g", {"type": "hello", "text": "from ours"})
        got = await asyncio.wait_for(theirs.receive(channel), 5)
        await ours.flush()
        await theirs.flush()
        return got

    assert async_to_sync(scenario)() == {"type": "hello", "text": "from ours"}


def test_a_redis_error_reaches_the_sender():
    layer = PipelinedPubSubChannelLayer(hosts=["redis://127.0.0.1:1"], prefix="lt-down")

    async def scenario():
        with pytest.raises(Exception, match="(?i)connect"):
            await layer.group_send("g", {"type": "t"})

    async_to_sync(scenario)()
