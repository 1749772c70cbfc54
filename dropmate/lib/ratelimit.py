"""A fixed-window rate limit counted in the shared cache (Redis when REDIS_URL is set), so the
limit holds across processes and servers."""

from django.core.cache import cache
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    # REMOTE_ADDR only: behind a proxy, the proxy must set it (e.g. daphne --proxy-headers).
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit; True when this hit is over `limit` within the current window."""
    cache_key = f"ratelimit:{scope}:{key}"
    # add() is atomic: it sets the counter only when no window is open yet.
    if cache.add(cache_key, 1, timeout=window_seconds):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # the window expired between add() and incr()
            cache.add(cache_key, 1, timeout=window_seconds)
            count = 1
    return count > limit
