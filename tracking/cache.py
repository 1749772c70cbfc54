"""The live state kept in the cache (Redis when configured): the latest accepted fix per
driver, and the client ids already applied. Only tracking.services writes here."""

from typing import Any

from django.conf import settings
from django.core.cache import cache

# Tests set a fresh namespace per test so cached state never leaks between them.
NAMESPACE = "tracking"


def latest_key(driver_id: int) -> str:
    return f"{NAMESPACE}:latest:{driver_id}"


def seen_key(driver_id: int, client_id: str) -> str:
    return f"{NAMESPACE}:seen:{driver_id}:{client_id}"


def latest_get(driver_id: int) -> dict[str, Any] | None:
    return cache.get(latest_key(driver_id))


def latest_get_many(driver_ids: list[int]) -> dict[int, dict[str, Any]]:
    found = cache.get_many([latest_key(d) for d in driver_ids])
    return {d: found[latest_key(d)] for d in driver_ids if latest_key(d) in found}


def latest_set(driver_id: int, position: dict[str, Any]) -> None:
    # Kept a day: the database row on Driver covers anything older.
    cache.set(latest_key(driver_id), position, timeout=86400)


def seen_claim(driver_id: int, client_id: str) -> bool:
    """Atomically claim a client id (SET NX). False when it was already applied. Claims live as
    long as a fix may be old, so a replay inside that age is always recognised."""
    return cache.add(
        seen_key(driver_id, client_id), 1, timeout=settings.TRACKING_FIX_MAX_AGE_S + 60
    )


def seen_release(keys: list[tuple[int, str]]) -> None:
    if keys:
        cache.delete_many([seen_key(d, c) for d, c in keys])


def eta_key(shipment_id: int) -> str:
    return f"{NAMESPACE}:eta:{shipment_id}"
