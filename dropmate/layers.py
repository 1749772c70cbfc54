"""The channel layer for Redis: channels-redis's pub/sub layer with pipelined group sends.

The pub/sub layer delivers to every process subscribed to a group, which is what live
tracking needs, but it sends each `group_send` as one PUBLISH under a per-connection lock: one
Redis round trip after another. At a thousand location fixes a second the pushes queue behind
that lock. Here every `group_send` made while a pipeline is in flight waits for the next one,
so a burst costs one round trip, not one per message; a lone send goes at once.

Subscriptions, receiving and the wire format are the parent's: processes running either layer
on the same prefix talk to each other.
"""

import weakref
from functools import partial
from urllib.parse import urlsplit

from channels_redis.pubsub import RedisPubSubChannelLayer

from dropmate.lib.redisbatch import PipelineBatcher


def _shard_client(shard):
    """The shard's client and pool (closed with the loop by the parent layer); no shard lock:
    the pool hands each pipeline its own connection."""
    shard._ensure_redis()
    return shard._redis


class PipelinedPubSubChannelLayer(RedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer` whose `group_send` is pipelined."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._publishers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def publisher(self, group: str) -> tuple[PipelineBatcher, str]:
        layer = self._get_layer()
        channel = layer._get_group_channel_name(group)
        shard = layer._get_shard(channel)
        publisher = self._publishers.get(shard)
        if publisher is None:
            publisher = PipelineBatcher(partial(_shard_client, shard))
            self._publishers[shard] = publisher
        return publisher, channel

    async def group_send(self, group: str, message: dict) -> None:
        publisher, channel = self.publisher(group)
        data = self.serialize(message)
        await publisher.call(lambda pipe: pipe.publish(channel, data))

    def group_channel(self, group: str) -> str:
        """The Redis channel a group's messages are published on (for a caller that publishes
        them itself, inside a script: tracking.cache.fix_claim). Call inside an event loop."""
        return self._get_layer()._get_group_channel_name(group)

    def redis_server(self) -> tuple[str, int] | None:
        """(host, port) of the one Redis this layer publishes to; None when sharded."""
        hosts = self._kwargs.get("hosts") or ["redis://localhost:6379"]
        if len(hosts) != 1:
            return None
        host = hosts[0]
        return same_server(host["address"] if isinstance(host, dict) else host)


def same_server(url: str) -> tuple[str, int]:
    """A Redis URL's (host, port): pub/sub ignores the database number."""
    parsed = urlsplit(url)
    return (parsed.hostname or "localhost", parsed.port or 6379)
