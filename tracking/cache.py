"""The live state of tracking: the latest accepted position per driver and the client ids
already applied. Only tracking.services writes here.

With REDIS_URL it lives in Redis, shared by every server process; without it (the embedded
default: one process) in this process's memory. The socket hot path claims a fix and stores the
position in one step (`fix_claim`): on Redis one Lua script, and every claim made while a
pipeline is in flight goes in the next pipeline, so a burst of fixes costs one round trip.

Keys: `dropmate:<NAMESPACE>:latest:<driver>` (a hash: `ts` seconds since the epoch, `json` the
position) and `dropmate:<NAMESPACE>:seen:<driver>:<client id>` (for TRACKING_FIX_DEDUP_WINDOW_S).
ETA windows stay in Django's cache (`eta_key`).
"""

import asyncio
import json
import threading
import time
import weakref
from typing import Any

from django.conf import settings

from dropmate.lib.redisbatch import PipelineBatcher

# Tests set a fresh namespace per test so cached state never leaks between them.
NAMESPACE = "tracking"
LATEST_TTL_S = 86400  # a day: the Driver row covers anything older

# fix_claim's answers
DUPLICATE, CLAIMED, NEWEST = 0, 1, 2

# KEYS: seen, latest. ARGV: seen ttl, position json ('' = just claim), ts, latest ttl, then
# (channel, message) pairs to PUBLISH when the position is the newest: the fan-out leaves in
# the same round trip as the claim.
CLAIM_SCRIPT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
if ARGV[2] == '' then return 1 end
local current = redis.call('HGET', KEYS[2], 'ts')
if current and tonumber(current) > tonumber(ARGV[3]) then return 1 end
redis.call('HSET', KEYS[2], 'ts', ARGV[3], 'json', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
for i = 5, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end
return 2
"""
# KEYS: latest. ARGV: ts, json, ttl. Stores unless a newer position is there.
STORE_SCRIPT = """
local current = redis.call('HGET', KEYS[1], 'ts')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'json', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def latest_key(driver_id: int) -> str:
    return f"dropmate:{NAMESPACE}:latest:{driver_id}"


def seen_key(driver_id: int, client_id: str) -> str:
    return f"dropmate:{NAMESPACE}:seen:{driver_id}:{client_id}"


def eta_key(shipment_id: int) -> str:
    return f"{NAMESPACE}:eta:{shipment_id}"


def _seen_ttl() -> int:
    """How long a claim is remembered: TRACKING_FIX_DEDUP_WINDOW_S, so Redis holds a window of
    fixes rather than every fix of the last hours. A fix is claimed after it is made (give or
    take the device's clock), so a fix younger than the window that was claimed is still here; an
    older one (an offline queue replayed late) is checked against the history table by the
    callers (`dedup_needs_history`)."""
    window = settings.TRACKING_FIX_DEDUP_WINDOW_S
    return max(120, min(window, settings.TRACKING_FIX_MAX_AGE_S + 60))


def dedup_needs_history(age_s: float) -> bool:
    """Whether a fix this old (server time minus device time) may have been claimed so long
    ago that its claim has expired. A device clock may run up to TRACKING_FIX_MAX_FUTURE_S
    ahead, so the claim can be that much older than the age says."""
    return age_s >= _seen_ttl() - settings.TRACKING_FIX_MAX_FUTURE_S - 5


def _timestamp(position: dict[str, Any]) -> float:
    from django.utils.dateparse import parse_datetime

    at = position["at"]
    return (parse_datetime(at) if isinstance(at, str) else at).timestamp()


# --- in this process (no Redis) --------------------------------------------------------------
class _Memory:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, float] = {}
        self.latest: dict[str, tuple[float, str]] = {}

    def claim(self, key: str, now: float) -> bool:
        expires = self.seen.get(key)
        if expires is not None and expires > now:
            return False
        if len(self.seen) > 200_000:
            self.seen = {k: v for k, v in self.seen.items() if v > now}
        self.seen[key] = now + _seen_ttl()
        return True

    def store(self, key: str, ts: float, text: str) -> bool:
        current = self.latest.get(key)
        if current is not None and current[0] > ts:
            return False
        self.latest[key] = (ts, text)
        return True


_memory = _Memory()


# --- Redis ------------------------------------------------------------------------------------
_sync_clients: dict[str, Any] = {}
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _redis_url() -> str:
    return settings.REDIS_URL


def _sync_client():
    import redis

    url = _redis_url()
    client = _sync_clients.get(url)
    if client is None:
        client = _sync_clients[url] = redis.Redis.from_url(
            url, max_connections=settings.REDIS_MAX_CONNECTIONS
        )
    return client


def _claims() -> PipelineBatcher:
    import redis.asyncio as aioredis

    loop = asyncio.get_running_loop()
    claims = _async_clients.get(loop)
    if claims is None:
        client = aioredis.Redis.from_url(
            _redis_url(), max_connections=settings.REDIS_MAX_CONNECTIONS
        )
        claims = _async_clients[loop] = PipelineBatcher(lambda: client)
    return claims


# --- the API ----------------------------------------------------------------------------------
def latest_get(driver_id: int) -> dict[str, Any] | None:
    return latest_get_many([driver_id]).get(driver_id)


def latest_get_many(driver_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not driver_ids:
        return {}
    if not _redis_url():
        with _memory.lock:
            found = {d: _memory.latest.get(latest_key(d)) for d in driver_ids}
        return {d: json.loads(v[1]) for d, v in found.items() if v is not None}
    pipe = _sync_client().pipeline(transaction=False)
    for d in driver_ids:
        pipe.hget(latest_key(d), "json")
    return {d: json.loads(v) for d, v in zip(driver_ids, pipe.execute(), strict=True) if v}


def latest_set(driver_id: int, position: dict[str, Any]) -> bool:
    """Store `position` as the driver's latest unless a newer one is there (fixes of one
    driver applied in parallel may finish out of order). True when stored."""
    ts, text = _timestamp(position), json.dumps(position)
    if not _redis_url():
        with _memory.lock:
            return _memory.store(latest_key(driver_id), ts, text)
    stored = _sync_client().eval(STORE_SCRIPT, 1, latest_key(driver_id), ts, text, LATEST_TTL_S)
    return bool(stored)


def seen_claim(driver_id: int, client_id: str) -> bool:
    """Atomically claim a client id. False when it was already applied."""
    if not _redis_url():
        with _memory.lock:
            return _memory.claim(seen_key(driver_id, client_id), time.time())
    return bool(_sync_client().set(seen_key(driver_id, client_id), 1, nx=True, ex=_seen_ttl()))


def seen_release(keys: list[tuple[int, str]]) -> None:
    if not keys:
        return
    names = [seen_key(d, c) for d, c in keys]
    if not _redis_url():
        with _memory.lock:
            for name in names:
                _memory.seen.pop(name, None)
        return
    _sync_client().delete(*names)


def publishes_with_claims(layer) -> bool:
    """Whether fix_claim can publish for this channel layer: ours, on the store's Redis."""
    from dropmate.layers import PipelinedPubSubChannelLayer, same_server

    return (
        bool(_redis_url())
        and isinstance(layer, PipelinedPubSubChannelLayer)
        and layer.redis_server() == same_server(_redis_url())
    )


async def fix_claim(
    driver_id: int,
    client_id: str,
    position: dict[str, Any] | None,
    publish: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
) -> int:
    """The socket hot path: claim the client id and, with a position, store it as the latest
    unless a newer one is there. DUPLICATE (already applied: nothing changed), CLAIMED, or
    NEWEST (claimed, and the position is now the driver's latest). `publish` (Redis only, see
    publishes_with_claims): (channel, message) pairs published when the answer is NEWEST."""
    seen = seen_key(driver_id, client_id)
    latest = latest_key(driver_id)
    if position is None:
        ts, text = 0.0, ""
    else:
        ts, text = _timestamp(position), json.dumps(position)
    if not _redis_url():
        with _memory.lock:
            if not _memory.claim(seen, time.time()):
                return DUPLICATE
            if position is None:
                return CLAIMED
            return NEWEST if _memory.store(latest, ts, text) else CLAIMED
    extra = [part for pair in publish for part in pair]
    args = (_seen_ttl(), text, ts, LATEST_TTL_S, *extra)
    answer = await _claims().call(lambda pipe: pipe.eval(CLAIM_SCRIPT, 2, seen, latest, *args))
    return int(answer)


def forget_all() -> None:
    """Tests: drop what this process holds in memory."""
    with _memory.lock:
        _memory.seen.clear()
        _memory.latest.clear()
