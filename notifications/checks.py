"""Startup check: Redis must not evict keys, or queued Celery messages vanish silently.

Registered as a Django system check (manage.py check, migrate, runserver) and logged when a
Celery worker starts."""

from django.conf import settings
from django.core import checks


def redis_eviction_warnings(url: str | None = None) -> list[checks.CheckMessage]:
    url = url if url is not None else settings.REDIS_URL
    if not url:
        return []
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except Exception as exc:  # unreachable, or CONFIG disabled (managed Redis)
        return [
            checks.Warning(
                f"Could not read Redis maxmemory-policy at {url} ({type(exc).__name__}: {exc}).",
                hint="Make sure Redis runs with maxmemory-policy noeviction: with eviction, "
                "queued Celery messages (notifications) can be dropped.",
                id="notifications.W002",
            )
        ]
    finally:
        client.close()
    if policy != "noeviction":
        return [
            checks.Warning(
                f"Redis maxmemory-policy is {policy!r}, not 'noeviction'.",
                hint="Under memory pressure Redis would evict queued Celery messages and "
                "notifications would be lost. Set `maxmemory-policy noeviction`.",
                id="notifications.W001",
            )
        ]
    return []


def redis_eviction_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return redis_eviction_warnings()
