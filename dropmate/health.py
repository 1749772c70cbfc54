"""Liveness and readiness probes for load balancers and orchestrators."""

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("value written was not read back")
    cache.delete(key)


async def _layer_roundtrip() -> None:
    import asyncio

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await asyncio.wait_for(layer.send(channel, {"type": "health.ping"}), timeout=2)
    received = await asyncio.wait_for(layer.receive(channel), timeout=2)
    if received.get("type") != "health.ping":
        raise RuntimeError("unexpected message")


def _check_channel_layer() -> None:
    async_to_sync(_layer_roundtrip)()


def _backend_name(component: str) -> str:
    from django.conf import settings

    if component == "database":
        return settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    if component == "cache":
        backend = settings.CACHES["default"]["BACKEND"]
    else:
        backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    return "redis" if "redis" in backend.lower() else "in-memory"


CHECKS = {"database": _check_database, "cache": _check_cache, "channel_layer": _check_channel_layer}


@require_GET
@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict[str, str]] = {}
    down: list[str] = []
    for name, check in CHECKS.items():
        backend = _backend_name(name)
        try:
            check()
        except Exception as exc:  # any failure means not ready; say which and why
            results[name] = {"status": "down", "backend": backend, "error": str(exc)[:200]}
            down.append(f"{name} ({backend})")
        else:
            results[name] = {"status": "ok", "backend": backend}
    body = {"status": "ready" if not down else "unavailable", "checks": results}
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)
