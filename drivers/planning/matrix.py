"""Travel times between points, from a pluggable provider.

By default: great-circle distance × a road factor ÷ an average speed, which needs no external
service. When `PLANNING_MATRIX_URL` is set, an OSRM-compatible (`/table/v1/driving/...`) or
Valhalla-compatible (`/sources_to_targets`) HTTP table service answers instead.
"""

import json
import math
import urllib.request
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dropmate.lib.geo import EARTH_RADIUS_KM, haversine_km

Point = tuple[float, float]  # (lat, lng)


class MatrixError(Exception):
    """The table service failed or answered something unusable."""


class MatrixProvider(Protocol):
    name: str

    def durations(self, points: list[Point]) -> list[list[int]]:
        """Whole seconds from each point to each other point."""


@dataclass(frozen=True)
class HaversineMatrix:
    road_factor: float = 1.3
    speed_kmh: float = 25.0
    name: str = "straight line"

    def seconds(self, a: Point, b: Point) -> int:
        km = haversine_km(a, b) * self.road_factor
        return math.ceil(km / self.speed_kmh * 3600)

    def durations(self, points: list[Point]) -> list[list[int]]:
        # Vectorised: a courier day has ~400 points, 160,000 pairs.
        if not points:
            return []
        lat, lng = np.radians(np.asarray(points, dtype=float)).T
        h = (
            np.sin((lat[None, :] - lat[:, None]) / 2) ** 2
            + np.cos(lat[:, None])
            * np.cos(lat[None, :])
            * np.sin((lng[None, :] - lng[:, None]) / 2) ** 2
        )
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h))) * self.road_factor
        seconds = np.ceil(km / self.speed_kmh * 3600).astype(np.int64)
        np.fill_diagonal(seconds, 0)
        return seconds.tolist()


@dataclass(frozen=True)
class HttpTableMatrix:
    """An OSRM- or Valhalla-compatible table service. `kind` is "osrm" or "valhalla"."""

    url: str
    kind: str = "osrm"
    timeout_s: float = 10.0
    profile: str = "driving"
    name: str = "table service"

    def durations(self, points: list[Point]) -> list[list[int]]:
        if not points:
            return []
        if not self.url.startswith(("http://", "https://")):
            raise MatrixError(f"PLANNING_MATRIX_URL must be an http(s) URL, not {self.url!r}.")
        try:
            table = self._valhalla(points) if self.kind == "valhalla" else self._osrm(points)
        except MatrixError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MatrixError(f"The travel-time service at {self.url} failed: {exc}") from exc
        if len(table) != len(points) or any(len(row) != len(points) for row in table):
            raise MatrixError("The travel-time service returned a table of the wrong size.")
        out = []
        for row in table:
            if any(v is None for v in row):
                raise MatrixError("The travel-time service found no road between some points.")
            out.append([math.ceil(float(v)) for v in row])
        return out

    def _get_json(self, request: urllib.request.Request) -> dict:
        # The URL comes from the operator's settings, never from a request.
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
            return json.loads(response.read().decode())

    def _osrm(self, points: list[Point]) -> list[list[float | None]]:
        coords = ";".join(f"{lng:.6f},{lat:.6f}" for lat, lng in points)
        url = f"{self.url.rstrip('/')}/table/v1/{self.profile}/{coords}?annotations=duration"
        body = self._get_json(urllib.request.Request(url))  # noqa: S310 (scheme checked)
        if body.get("code") != "Ok":
            raise MatrixError(f"The travel-time service said: {body.get('code')}.")
        return body["durations"]

    def _valhalla(self, points: list[Point]) -> list[list[float | None]]:
        locations = [{"lat": lat, "lon": lng} for lat, lng in points]
        payload = json.dumps(
            {"sources": locations, "targets": locations, "costing": "auto"}
        ).encode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked)
            f"{self.url.rstrip('/')}/sources_to_targets",
            data=payload,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        body = self._get_json(request)
        return [[cell.get("time") for cell in row] for row in body["sources_to_targets"]]


def provider_from_settings() -> MatrixProvider:
    from django.conf import settings

    if settings.PLANNING_MATRIX_URL:
        return HttpTableMatrix(
            url=settings.PLANNING_MATRIX_URL,
            kind=settings.PLANNING_MATRIX_KIND,
            timeout_s=settings.PLANNING_MATRIX_TIMEOUT_S,
        )
    return HaversineMatrix(
        road_factor=settings.PLANNING_ROAD_FACTOR, speed_kmh=settings.PLANNING_SPEED_KMH
    )
