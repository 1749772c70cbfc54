"""Address → coordinates, behind one pluggable function.

`geocode(query)` asks the backend configured by DROPMATE_GEOCODER_URL: a Nominatim-compatible
search endpoint (`?q=...&format=jsonv2&limit=1`). With no URL configured there is no backend and
the customer's pin on the map is the only source of coordinates. Failures are never fatal: the
caller falls back to the pin.
"""

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeocodeResult:
    lat: float
    lng: float
    label: str


def geocoder_configured() -> bool:
    return bool(settings.DROPMATE_GEOCODER_URL)


def geocode(query: str) -> GeocodeResult | None:
    """The best match for `query`, or None (no backend, no match, or the backend failed)."""
    query = " ".join((query or "").split())[:300]
    url = settings.DROPMATE_GEOCODER_URL
    if not url.startswith(("http://", "https://")) or not query:
        return None
    params = urllib.parse.urlencode({"q": query, "format": "jsonv2", "limit": 1})
    request = urllib.request.Request(  # noqa: S310 (an http(s) URL from the operator's settings)
        f"{url}{'&' if '?' in url else '?'}{params}",
        headers={"User-Agent": settings.DROPMATE_GEOCODER_USER_AGENT, "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=settings.DROPMATE_GEOCODER_TIMEOUT
        ) as response:
            rows = json.loads(response.read(1_000_000))
    except (urllib.error.URLError, TimeoutError, ValueError, OSError) as exc:
        log.warning("geocoder failed for a query: %s", exc)
        return None
    if not isinstance(rows, list) or not rows:
        return None
    try:
        lat, lng = float(rows[0]["lat"]), float(rows[0]["lon"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    return GeocodeResult(lat=lat, lng=lng, label=str(rows[0].get("display_name", ""))[:200])
