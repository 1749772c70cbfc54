"""ETA arithmetic. Pure functions: no database, no settings, no clock; callers pass them in.

The model: from the driver's position through the stops before this one, straight-line
distance × a road factor ÷ a speed learned from the driver's recent fixes (an exponential
moving average, clamped to sane bounds), plus a service time for every stop made on the way.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from dropmate.lib.geo import haversine_km

Point = tuple[float, float]


def distance_m(a: Point, b: Point) -> float:
    return haversine_km(a, b) * 1000.0


def speed_learn(
    *,
    previous: float | None,
    observed: float | None,
    alpha: float = 0.2,
    start: float | None = None,
) -> float | None:
    """The driver's learned speed after one more observation (m/s): an exponential moving
    average starting from `start` (the default speed). Observations of (nearly) standing still
    are ignored: waiting at a door is service time, not slow driving."""
    if observed is None or not math.isfinite(observed) or observed < 0.5:
        return previous
    if previous is None:
        previous = start
    if previous is None:
        return observed
    return previous + alpha * (observed - previous)


def speed_for_eta(*, learned: float | None, default: float, low: float, high: float) -> float:
    speed = default if learned is None else learned
    return min(high, max(low, speed))


def order_stops(*, start: Point, stops: list[tuple[int, Point]]) -> list[int]:
    """Visit order when no plan gives one: nearest stop first, then nearest from there."""
    remaining = list(stops)
    order: list[int] = []
    here = start
    while remaining:
        best = min(remaining, key=lambda s: distance_m(here, s[1]))
        remaining.remove(best)
        order.append(best[0])
        here = best[1]
    return order


def route_distance_m(*, start: Point, stops: list[Point]) -> float:
    total, here = 0.0, start
    for point in stops:
        total += distance_m(here, point)
        here = point
    return total


def eta_seconds(
    *,
    start: Point,
    stops_before: list[Point],
    destination: Point,
    speed_mps: float,
    road_factor: float,
    service_s: float,
) -> float:
    """Seconds from `start` to arriving at `destination`, serving `stops_before` on the way."""
    if speed_mps <= 0:
        raise ValueError("speed must be positive")
    meters = route_distance_m(start=start, stops=[*stops_before, destination]) * road_factor
    return meters / speed_mps + service_s * len(stops_before)


@dataclass(frozen=True)
class EtaWindow:
    at: datetime
    earliest: datetime
    latest: datetime

    def as_dict(self) -> dict:
        return {
            "at": self.at.isoformat(),
            "earliest": self.earliest.isoformat(),
            "latest": self.latest.isoformat(),
        }


def eta_window(*, now: datetime, seconds: float) -> EtaWindow:
    """A window around the estimate that widens with the distance still to go: ±20 %, at
    least ±2 min, at most ±30 min."""
    spread = min(1800.0, max(120.0, seconds * 0.2))
    at = now + timedelta(seconds=seconds)
    return EtaWindow(
        at=at, earliest=at - timedelta(seconds=spread), latest=at + timedelta(seconds=spread)
    )


def eta_moved(*, previous: datetime | None, current: datetime, threshold_s: float = 60.0) -> bool:
    """True when the new estimate is worth pushing: first one, or moved by a minute or more."""
    if previous is None:
        return True
    return abs((current - previous).total_seconds()) >= threshold_s


def fix_is_stale(*, fix_time: datetime | None, now: datetime, max_age_s: float) -> bool:
    return fix_time is None or (now - fix_time).total_seconds() > max_age_s


def implied_speed_mps(
    *, a: Point, a_time: datetime, a_accuracy: float, b: Point, b_time: datetime, b_accuracy: float
) -> float:
    """The speed needed to get from fix a to fix b, giving both the benefit of their accuracy
    (capped, so a fix claiming 5 km accuracy cannot excuse any jump)."""
    slack = min(a_accuracy, 100.0) + min(b_accuracy, 100.0)
    meters = max(0.0, distance_m(a, b) - slack)
    seconds = abs((b_time - a_time).total_seconds())
    if meters == 0:
        return 0.0
    return meters / max(seconds, 1.0)
