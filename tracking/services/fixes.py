"""Writes for live tracking: the location pipeline, ETA, the "driver is nearby" trigger,
arrival times and the history purge."""

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from drivers.models import Driver
from dropmate.lib.exceptions import Invalid
from dropmate.lib.retention import rows_delete_in_batches
from shipments.lifecycle import Status
from shipments.models import Shipment
from tracking import broadcast, eta, selectors
from tracking import cache as live
from tracking.buffer import buffer, row_of
from tracking.models import LocationFix

ACCEPTED, DUPLICATE, FLAGGED, REJECTED = "accepted", "duplicate", "flagged", "rejected"
OFF_DUTY = "You are off duty: go on duty to share your location."
BUSY = "The server is busy: keep this fix and send it again shortly."
TOO_FAST = "Too many fixes from this device: at most a few per second."
# Nobody drives faster than this; a device claiming more is broken.
MAX_REPORTED_SPEED_MPS = 100.0


class FixRejected(Exception):
    pass


def driver_context_load(driver: Driver) -> tuple[bool, list[Shipment], list[int]]:
    """Whether the driver is on duty, their active shipments and today's plan order."""
    on_duty = Driver.objects.filter(pk=driver.pk, on_duty=True).exists()
    if not on_duty:
        return False, [], []
    shipments = list(selectors.driver_shipments_active(driver_id=driver.pk))
    return True, shipments, selectors.driver_plan_order(driver_id=driver.pk)


@dataclass
class Fix:
    client_id: str
    device_time: datetime
    lat: float
    lng: float
    accuracy_m: float
    speed_mps: float | None
    heading: float | None
    shipment: str | None


def fix_result(client_id: Any, status: str, error: str | None = None) -> dict[str, Any]:
    return {"client_id": client_id, "status": status, "error": error}


def result_refused(raw: Any, error: str) -> dict[str, Any]:
    """The result for a fix refused before it was looked at (load shedding)."""
    return fix_result(raw.get("client_id") if isinstance(raw, dict) else None, REJECTED, error)


def _number(raw: dict, name: str, *, required: bool, low: float, high: float) -> float | None:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise FixRejected(f"{name} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FixRejected(f"{name} must be a number.")
    try:
        number = float(value)
    except ValueError:
        raise FixRejected(f"{name} must be a number.") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise FixRejected(f"{name} must be between {low:g} and {high:g}.")
    return number


def fix_parse(raw: Any, *, now: datetime) -> Fix:
    """Validate one fix as sent by a device. Raises FixRejected with a message for the device."""
    if not isinstance(raw, dict):
        raise FixRejected("A fix must be an object.")
    try:
        client_id = str(uuid.UUID(str(raw.get("client_id", ""))))
    except ValueError:
        raise FixRejected("client_id must be a UUID.") from None
    text = raw.get("device_time")
    device_time = parse_datetime(text) if isinstance(text, str) else None
    if device_time is None:
        raise FixRejected("device_time must be an ISO 8601 date and time.")
    if timezone.is_naive(device_time):
        raise FixRejected("device_time needs a time zone (e.g. 2026-05-01T10:00:00Z).")
    if device_time > now + timedelta(seconds=settings.TRACKING_FIX_MAX_FUTURE_S):
        raise FixRejected("device_time is in the future: check the device clock.")
    if device_time < now - timedelta(seconds=settings.TRACKING_FIX_MAX_AGE_S):
        raise FixRejected("device_time is too old to be applied.")
    shipment = raw.get("shipment") or None
    if shipment is not None and (not isinstance(shipment, str) or len(shipment) > 24):
        raise FixRejected("shipment must be a tracking number.")
    return Fix(
        client_id=client_id,
        device_time=device_time,
        lat=_number(raw, "lat", required=True, low=-90, high=90),
        lng=_number(raw, "lng", required=True, low=-180, high=180),
        accuracy_m=_number(raw, "accuracy_m", required=True, low=0, high=100_000),
        speed_mps=_number(raw, "speed_mps", required=False, low=0, high=MAX_REPORTED_SPEED_MPS),
        heading=_number(raw, "heading", required=False, low=0, high=359.999999),
        shipment=shipment.strip().upper() if shipment else None,
    )


def position_from_fix(fix: Fix, *, learned: float | None) -> dict[str, Any]:
    return {
        "lat": fix.lat,
        "lng": fix.lng,
        "accuracy_m": fix.accuracy_m,
        "speed_mps": fix.speed_mps,
        "heading": fix.heading,
        "at": fix.device_time.isoformat(),
        "speed_learned": learned,
    }


def fix_is_jump(previous: dict[str, Any] | None, fix: Fix) -> bool:
    if previous is None:
        return False
    at = parse_datetime(previous["at"]) if isinstance(previous["at"], str) else previous["at"]
    speed = eta.implied_speed_mps(
        a=(previous["lat"], previous["lng"]),
        a_time=at,
        a_accuracy=previous.get("accuracy_m") or 0.0,
        b=(fix.lat, fix.lng),
        b_time=fix.device_time,
        b_accuracy=fix.accuracy_m,
    )
    return speed > settings.TRACKING_MAX_SPEED_MPS


def speed_observed(previous: dict[str, Any] | None, fix: Fix) -> float | None:
    if fix.speed_mps is not None:
        return fix.speed_mps
    if previous is None:
        return None
    at = parse_datetime(previous["at"]) if isinstance(previous["at"], str) else previous["at"]
    seconds = (fix.device_time - at).total_seconds()
    if seconds < 5:
        return None
    return eta.distance_m((previous["lat"], previous["lng"]), (fix.lat, fix.lng)) / seconds


def fixes_ingest(
    *, driver: Driver, fixes: list[dict], buffered: bool = False
) -> list[dict[str, Any]]:
    """Apply a batch of fixes from `driver`'s device; one result per fix, in input order:
    `{"client_id", "status": accepted|duplicate|flagged|rejected, "error"}`.

    Each fix is validated (coordinates, accuracy, device time neither future nor too old,
    speed plausible against the previous fix). A jump is stored `flagged` and never becomes the
    position. A client id already applied for this driver is a `duplicate` and changes nothing.
    The newest accepted fix becomes the driver's latest position (cache, and the Driver row),
    drives ETA and the "nearby" trigger (inside the transaction), and is fanned out after
    commit. History rows are inserted in this transaction, or, with `buffered` (the socket hot
    path), by the process's buffer within TRACKING_FIX_FLUSH_S.
    An off-duty driver's fixes are all rejected with a message saying so.
    """
    if len(fixes) > settings.TRACKING_MAX_FIXES_PER_REQUEST:
        raise Invalid(
            f"At most {settings.TRACKING_MAX_FIXES_PER_REQUEST} fixes per request.",
            details={"field": "fixes"},
        )
    now = timezone.now()
    results: list[dict[str, Any] | None] = [None] * len(fixes)

    def client_id_of(raw: Any) -> Any:
        return raw.get("client_id") if isinstance(raw, dict) else None

    on_duty, shipments, plan = driver_context_load(driver)
    if not on_duty:
        return [fix_result(client_id_of(raw), REJECTED, OFF_DUTY) for raw in fixes]

    parsed: list[tuple[int, Fix]] = []
    for i, raw in enumerate(fixes):
        try:
            parsed.append((i, fix_parse(raw, now=now)))
        except FixRejected as exc:
            results[i] = fix_result(client_id_of(raw), REJECTED, str(exc))

    wanted = {f.shipment for _, f in parsed if f.shipment}
    shipment_ids = {s.tracking_number: s.pk for s in shipments if s.tracking_number in wanted}
    if wanted - set(shipment_ids):
        shipment_ids.update(
            Shipment.objects.filter(
                driver=driver, tracking_number__in=wanted - set(shipment_ids)
            ).values_list("tracking_number", "pk")
        )
    kept: list[tuple[int, Fix]] = []
    for i, fix in parsed:
        if fix.shipment and fix.shipment not in shipment_ids:
            results[i] = fix_result(fix.client_id, REJECTED, "No such shipment among your jobs.")
        else:
            kept.append((i, fix))

    if buffered and not buffer.has_room(len(kept)):
        for i, fix in kept:
            results[i] = fix_result(fix.client_id, REJECTED, BUSY)
        return results  # type: ignore[return-value]

    stored: set[str] = set()
    if not buffered and kept:
        stored = {
            str(c)
            for c in LocationFix.objects.filter(
                driver=driver, client_id__in=[f.client_id for _, f in kept]
            ).values_list("client_id", flat=True)
        }
    fresh: list[tuple[int, Fix]] = []
    claimed: list[tuple[int, str]] = []
    for i, fix in sorted(kept, key=lambda item: item[1].device_time):
        if fix.client_id in stored or not live.seen_claim(driver.pk, fix.client_id):
            results[i] = fix_result(fix.client_id, DUPLICATE)
            continue
        claimed.append((driver.pk, fix.client_id))
        fresh.append((i, fix))

    try:
        _apply(
            driver=driver,
            shipments=shipments,
            plan=plan,
            fresh=fresh,
            shipment_ids=shipment_ids,
            results=results,
            now=now,
            buffered=buffered,
        )
    except BaseException:
        live.seen_release(claimed)
        raise
    return results  # type: ignore[return-value]


@transaction.atomic
def _apply(
    *,
    driver: Driver,
    shipments: list[Shipment],
    plan: list[int],
    fresh: list[tuple[int, Fix]],
    shipment_ids: dict[str, int],
    results: list,
    now: datetime,
    buffered: bool,
) -> None:
    if not fresh:
        return
    latest = selectors.driver_position(driver=driver)
    newest: dict[str, Any] | None = None
    rows = []
    for i, fix in fresh:
        flagged = fix_is_jump(latest, fix)
        if not flagged:
            latest_at = None if latest is None else parse_datetime(str(latest["at"]))
            if latest_at is None or fix.device_time > latest_at:
                learned = eta.speed_learn(
                    previous=(latest or {}).get("speed_learned"),
                    observed=speed_observed(latest, fix),
                    start=settings.TRACKING_DEFAULT_SPEED_MPS,
                )
                latest = newest = position_from_fix(fix, learned=learned)
        rows.append(
            LocationFix(
                driver_id=driver.pk,
                shipment_id=shipment_ids.get(fix.shipment) if fix.shipment else None,
                client_id=fix.client_id,
                device_time=fix.device_time,
                received_at=now,
                lat=fix.lat,
                lng=fix.lng,
                accuracy_m=fix.accuracy_m,
                speed_mps=fix.speed_mps,
                heading=fix.heading,
                flagged=flagged,
            )
        )
        results[i] = fix_result(fix.client_id, FLAGGED if flagged else ACCEPTED)
    last = None
    if newest is not None:
        last = (driver.pk, newest["lat"], newest["lng"], parse_datetime(newest["at"]))
    if buffered:
        transaction.on_commit(partial(buffer.add, [row_of(r) for r in rows], last))
    else:
        LocationFix.objects.bulk_create(rows, ignore_conflicts=True)
        if last is not None:
            Driver.objects.filter(pk=driver.pk).update(
                last_lat=last[1], last_lng=last[2], last_fix_at=last[3]
            )
    if newest is not None:
        # Fixes of one driver applied in parallel may commit out of order: the store keeps
        # the newest.
        transaction.on_commit(partial(live.latest_set, driver.pk, newest))
        _position_applied(driver=driver, shipments=shipments, plan=plan, position=newest, now=now)


def position_effects(
    *, shipments: list[Shipment], ordered: list[Shipment], position: dict[str, Any], now: datetime
) -> None:
    """What a driver's new position changes in the database: the ETA of every stop still to
    make, and "driver is nearby" (once per shipment). Run it in a transaction."""
    here = (position["lat"], position["lng"])
    _etas_update(ordered=ordered, position=position, now=now)
    radius = settings.TRACKING_NEARBY_RADIUS_M
    for shipment in shipments:
        if (
            shipment.status == Status.OUT_FOR_DELIVERY
            and shipment.nearby_notified_at is None
            and shipment.dropoff_point is not None
            and eta.distance_m(here, shipment.dropoff_point) <= radius
        ):
            shipment_nearby_trigger(shipment=shipment, now=now)


def position_audience(
    *,
    on_duty: bool,
    shipments: list[Shipment],
    ordered: list[Shipment],
    position: dict[str, Any],
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, bool]]]:
    """Who is told about a new position, and what: (the position as clients see it, the fleet
    map's version with the driver's state, [(tracking number, whether its customer may see
    the driver)]). The privacy rule: only the customer of the next stop, out for delivery."""
    next_id = ordered[0].pk if ordered else None
    visible = [
        (s.tracking_number, s.status == Status.OUT_FOR_DELIVERY and s.pk == next_id)
        for s in shipments
    ]
    shown = selectors.position_public(position, now=now)
    statuses = {s.status for s in shipments}
    state = selectors.driver_state(on_duty=on_duty, statuses=statuses, position=position)
    return shown, {**shown, "state": state}, visible


def _position_applied(
    *,
    driver: Driver,
    shipments: list[Shipment],
    plan: list[int],
    position: dict[str, Any],
    now: datetime,
) -> None:
    """ETA, "nearby" and the fan-out for a driver's new position. Inside the transaction."""
    ordered = selectors.stops_in_order(position=position, shipments=shipments, plan=plan)
    position_effects(shipments=shipments, ordered=ordered, position=position, now=now)
    shown, fleet, visible = position_audience(
        on_duty=True, shipments=shipments, ordered=ordered, position=position, now=now
    )
    transaction.on_commit(
        partial(_fan_out, driver_id=driver.pk, fleet=fleet, shown=shown, visible=visible)
    )


def _fan_out(*, driver_id: int, fleet: dict, shown: dict, visible: list) -> None:
    broadcast.location_push(driver_id=driver_id, position=shown, shipments=visible, fleet=fleet)


def _etas_update(*, ordered: list[Shipment], position: dict[str, Any], now: datetime) -> None:
    """Recompute the ETA of every stop still to make; store and push those that moved by a
    minute or more (Shipment.predicted_arrival keeps the latest prediction)."""
    if not ordered:
        return
    speed = eta.speed_for_eta(
        learned=position.get("speed_learned"),
        default=settings.TRACKING_DEFAULT_SPEED_MPS,
        low=settings.TRACKING_MIN_SPEED_MPS,
        high=settings.TRACKING_MAX_ETA_SPEED_MPS,
    )
    start = (position["lat"], position["lng"])
    stored: dict[str, dict[str, Any]] = {}
    for k, shipment in enumerate(ordered):
        seconds = eta.eta_seconds(
            start=start,
            stops_before=[s.dropoff_point for s in ordered[:k]],
            destination=shipment.dropoff_point,
            speed_mps=speed,
            road_factor=settings.TRACKING_ROAD_FACTOR,
            service_s=settings.TRACKING_SERVICE_TIME_S,
        )
        window = eta.eta_window(now=now, seconds=seconds)
        data = {
            **window.as_dict(),
            "seconds": round(seconds),
            "stops_before": k,
            "fix_at": position["at"],
            "updated_at": now.isoformat(),
        }
        stored[live.eta_key(shipment.pk)] = data
        if eta.eta_moved(previous=shipment.predicted_arrival, current=window.at):
            Shipment.objects.filter(pk=shipment.pk).update(predicted_arrival=window.at)
            shipment.predicted_arrival = window.at
            transaction.on_commit(
                partial(broadcast.eta_push, tracking_number=shipment.tracking_number, eta=data)
            )
    cache.set_many(stored, timeout=86400)


def shipment_nearby_trigger(*, shipment: Shipment, now: datetime | None = None) -> bool:
    """Fire "driver is nearby" once per shipment: a conditional update claims it, and the
    notification is written in the same transaction. True when this call fired it."""
    from notifications.services import notify_shipment

    now = now or timezone.now()
    with transaction.atomic():
        claimed = Shipment.objects.filter(pk=shipment.pk, nearby_notified_at__isnull=True).update(
            nearby_notified_at=now
        )
        if not claimed:
            return False
        shipment.nearby_notified_at = now
        notify_shipment(event_key="driver_nearby", shipment=shipment)
    return True


def shipment_record_arrival(*, shipment: Shipment, at: datetime | None = None) -> bool:
    """Store the actual arrival at the drop-off (once), next to the predicted one, so ETA
    accuracy can be reported. The driver portal calls it on delivery. True if it was set."""
    at = at or timezone.now()
    updated = Shipment.objects.filter(pk=shipment.pk, actual_arrival__isnull=True).update(
        actual_arrival=at
    )
    if updated:
        shipment.actual_arrival = at
    return bool(updated)


def fixes_purge_old(*, now: datetime | None = None, days: int | None = None) -> int:
    """Delete location history received more than `days` (TRACKING_RETENTION_DAYS) ago."""
    days = settings.TRACKING_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    # In primary-key batches: at a fix per driver every few seconds a day is millions of rows.
    return rows_delete_in_batches(queryset=LocationFix.objects.filter(received_at__lt=cutoff))
