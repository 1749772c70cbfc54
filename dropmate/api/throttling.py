"""Request throttling through the shared cache (Redis when configured), so every web process
counts against the same budget.

Fixed windows counted with the cache's atomic `add` + `incr`: one round trip per request and no
lost updates between processes (DRF's SimpleRateThrottle rewrites a list with get/set, which
two processes can race). A refused request gets 429 with `Retry-After` set to the seconds left
in the window. Rates come from `settings.API_THROTTLE_RATES` at request time.
"""

import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

DURATIONS = {
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}


def parse_rate(rate: str) -> tuple[int, int]:
    """'60/min' -> (60, 60); '5/10s' -> (5, 10)."""
    count, _, period = rate.partition("/")
    digits = "".join(ch for ch in period if ch.isdigit())
    unit = period[len(digits) :].strip().lower()
    if unit not in DURATIONS or not count.strip().isdigit():
        raise ValueError(f"Bad throttle rate {rate!r}: use e.g. '60/min', '1000/hour', '5/10s'.")
    return int(count), int(digits or 1) * DURATIONS[unit]


class CacheWindowThrottle(BaseThrottle):
    scope = ""

    def ident_for(self, request) -> str | None:
        """The client this request counts for; None when this throttle does not apply."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        rate = settings.API_THROTTLE_RATES.get(self.scope)
        ident = self.ident_for(request)
        if not rate or ident is None:
            return True
        limit, duration = parse_rate(rate)
        now = time.time()
        window = int(now // duration)
        key = f"throttle:{self.scope}:{ident}:{duration}:{window}"
        # add() creates the counter only if missing; incr() is atomic in Redis and locmem.
        cache.add(key, 0, timeout=duration + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=duration + 1)
            count = 1
        self._wait = (window + 1) * duration - now
        return count <= limit

    def wait(self) -> float:
        # Whole seconds, at least one: Retry-After is an integer and 0 would invite a hot loop.
        return max(1, math.ceil(self._wait))


class ClientThrottle(CacheWindowThrottle):
    """Per API token, else per signed-in user, else per anonymous client address."""

    def ident_for(self, request) -> str | None:
        token = getattr(request, "auth", None)
        if token is not None and getattr(token, "pk", None) is not None:
            return f"token:{token.pk}"
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"anon:{self.get_ident(request)}"


class AnonThrottle(ClientThrottle):
    scope = "anon"

    def ident_for(self, request) -> str | None:
        ident = super().ident_for(request)
        return ident if ident.startswith("anon:") else None


class UserThrottle(ClientThrottle):
    scope = "user"

    def ident_for(self, request) -> str | None:
        ident = super().ident_for(request)
        return None if ident.startswith("anon:") else ident


class TrackThrottle(ClientThrottle):
    """Public tracking: a tighter budget per client, so tracking numbers cannot be swept."""

    scope = "track"
