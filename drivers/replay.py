"""Applying the driver app's queued updates (status changes, proof of delivery, duty, location
fixes), each at most once.

The app gives every update a client-generated UUID and the device time, queues it (offline
in IndexedDB) and sends batches. A batch may arrive twice, shuffled, or with an item repeated:

- items are applied in device-time order (then the device's own sequence number), not in the
  order they arrived;
- a job update claims its id by writing a `ReplayedUpdate` row in the same transaction as the
  change it makes, so a repeat finds the row and gets the stored result back ("duplicate");
  two racing copies cannot both apply (the loser's claim hits the unique constraint and rolls
  its change back);
- an update that can no longer apply (the job was reassigned, cancelled or moved on) is stored
  and reported as a conflict with what happened — never dropped;
- an update whose device time is older than DRIVER_REPLAY_MAX_AGE_DAYS, or further ahead of
  the server clock than DRIVER_REPLAY_MAX_FUTURE_HOURS, is rejected: the `ReplayedUpdate`
  rows are purged after DRIVER_REPLAY_RETENTION_DAYS (longer than both together), so a copy
  arriving after its row is gone is always too old to be applied a second time;
- a temporary failure (the photo store is down) is reported as "retry" and not stored, so the
  app keeps the item and sends it again;
- location fixes are handed to `tracking.services.fixes_ingest`, which keeps its own
  at-most-once record per fix id.
"""

import base64
import binascii
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from drivers import services
from drivers.models import Driver, ReplayedUpdate
from dropmate.lib.exceptions import (
    DomainError,
    Invalid,
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
)
from shipments import tracking_numbers
from shipments.handover import handover_pin_verify
from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent
from shipments.pod import StorageUnavailable

logger = logging.getLogger(__name__)

JOB_KINDS = frozenset({"status", "accept", "decline", "deliver", "duty"})
KINDS = JOB_KINDS | {"fix"}
Outcome = ReplayedUpdate.Outcome


class OutsideReplayWindow(Invalid):
    """The update's device time is too old, or too far ahead, for it to be applied safely."""

    code = "outside_replay_window"


@dataclass
class Item:
    index: int
    raw: dict[str, Any]
    client_id: uuid.UUID | None = None
    device_time: datetime | None = None
    kind: str = ""
    seq: int = 0
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)


def _parse(index: int, raw: Any) -> Item:
    item = Item(index=index, raw=raw if isinstance(raw, dict) else {})
    if not isinstance(raw, dict):
        item.error = "Each update must be an object."
        return item
    try:
        item.client_id = uuid.UUID(str(raw.get("client_id", "")))
    except ValueError:
        item.error = "client_id must be a UUID."
        return item
    device_time = raw.get("device_time")
    item.device_time = parse_datetime(device_time) if isinstance(device_time, str) else None
    if item.device_time is None or item.device_time.tzinfo is None:
        item.error = "device_time must be an ISO 8601 time with a timezone."
        return item
    item.kind = str(raw.get("type", ""))
    if item.kind not in KINDS:
        item.error = f"type must be one of: {', '.join(sorted(KINDS))}."
        return item
    seq = raw.get("seq", 0)
    item.seq = seq if isinstance(seq, int) else 0
    return item


def _result(item: Item, status: str, *, code: str = "", message: str = "", **extra) -> dict:
    out = {
        "client_id": str(item.client_id) if item.client_id else item.raw.get("client_id"),
        "type": item.kind or item.raw.get("type"),
        "status": status,
        "error": {"code": code, "message": message} if message else None,
    }
    out.update(extra)
    return out


def _shipment_state(shipment: Shipment | None) -> dict | None:
    if shipment is None:
        return None
    return {
        "tracking_number": shipment.tracking_number,
        "status": shipment.status,
        "status_label": shipment.get_status_display(),
        "version": shipment.version,
    }


def _float(raw: dict, name: str) -> float | None:
    value = raw.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be a number.", details={"field": name}) from None


def _file(raw: dict, name: str) -> bytes | None:
    """A base64 (or data: URL) file from the JSON item."""
    value = raw.get(name)
    if not value:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be base64 text.", details={"field": name})
    if value.startswith("data:"):
        value = value.partition(",")[2]
    if len(value) > settings.POD_MAX_BYTES * 4 // 3 + 8:
        raise Invalid(
            f"The {name} is too large; the limit is {settings.POD_MAX_BYTES // 1024} KB.",
            details={"field": name},
        )
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"The {name} is not valid base64.", details={"field": name}) from None


def _job_for(driver: Driver, raw: dict) -> Shipment:
    """The job an item is about. A job this driver once had but no longer has is a conflict
    ("reassigned"); one they never had is not found, exactly like any unknown number."""
    canonical = tracking_numbers.normalize(str(raw.get("shipment", "")))
    shipment = Shipment.objects.filter(tracking_number=canonical).first() if canonical else None
    if shipment is None:
        raise NotFound("No such shipment.")
    if shipment.driver_id != driver.pk:
        was_mine = shipment.events.filter(
            Q(data__driver_id=driver.pk) | Q(data__previous_driver_id=driver.pk)
        ).exists()
        if not was_mine:
            raise NotFound("No such shipment.")
        what = (
            "was cancelled"
            if shipment.status == Status.CANCELLED
            else "was reassigned and is no longer yours"
        )
        raise InvalidTransition(
            f"Job {shipment.tracking_number} {what}; your update was not applied.",
            details={"current_status": shipment.status, "reassigned": True},
        )
    if shipment.status == Status.CANCELLED:
        raise InvalidTransition(
            f"Job {shipment.tracking_number} was cancelled; your update was not applied.",
            details={"current_status": shipment.status},
        )
    return shipment


def _apply(driver: Driver, item: Item) -> Shipment | None:
    raw = item.raw
    if item.kind == "duty":
        services.driver_duty_set(driver=driver, on_duty=bool(raw.get("on_duty")))
        return None
    shipment = _job_for(driver, raw)
    lat, lng = _float(raw, "lat"), _float(raw, "lng")
    if item.kind == "accept":
        return services.driver_job_accept(driver=driver, shipment=shipment)
    if item.kind == "decline":
        return services.driver_job_decline(
            driver=driver,
            shipment=shipment,
            reason=str(raw.get("reason", "")),
            note=str(raw.get("note", ""))[:300],
        )
    to = str(raw.get("to", ""))
    photo, signature = _file(raw, "photo"), _file(raw, "signature")
    if item.kind == "deliver" or (to == Status.DELIVERED and (photo or signature)):
        return services.driver_job_deliver(
            driver=driver,
            shipment=shipment,
            photo=photo,
            signature=signature,
            recipient_name=str(raw.get("recipient_name", ""))[:100],
            handover_pin=str(raw.get("pin", "")),
            lat=lat,
            lng=lng,
            captured_at=item.device_time,
        )
    if to not in Status.values:
        raise Invalid("to must be a shipment status.", details={"field": "to"})
    return services.driver_job_move(
        driver=driver,
        shipment=shipment,
        to=to,
        reason=str(raw.get("reason", "")),
        note=str(raw.get("note", ""))[:300],
        lat=lat,
        lng=lng,
        handover_pin=str(raw.get("pin", "")),
        data={"client_id": str(item.client_id), "device_time": item.device_time.isoformat()},
    )


def _check_window(item: Item) -> None:
    """Refuse a job update outside the replay window. Its at-most-once record may already be
    purged (`services.replayed_updates_purge_old`), so it could otherwise apply twice."""
    max_age, max_lead = services.replay_accept_window()
    now = timezone.now()
    if item.device_time < now - max_age:
        raise OutsideReplayWindow(
            f"This change was saved on the phone more than {max_age.days} days ago and can no "
            "longer be applied; tell dispatch what happened.",
            details={"device_time": item.device_time.isoformat()},
        )
    if item.device_time > now + max_lead:
        raise OutsideReplayWindow(
            "This change is dated in the future: check the phone's date and time, then make "
            "the change again.",
            details={"device_time": item.device_time.isoformat()},
        )


def _stored(driver: Driver, client_id: uuid.UUID) -> ReplayedUpdate | None:
    return ReplayedUpdate.objects.filter(driver=driver, client_id=client_id).first()


def _as_duplicate(item: Item, row: ReplayedUpdate) -> dict:
    previous = dict(row.result)
    previous.update(client_id=str(item.client_id), status="duplicate", original_status=row.outcome)
    return previous


def _record(driver: Driver, item: Item, outcome: str, result: dict, shipment) -> dict:
    try:
        with transaction.atomic():
            ReplayedUpdate.objects.create(
                driver=driver,
                client_id=item.client_id,
                kind=item.kind,
                shipment=shipment,
                device_time=item.device_time,
                outcome=outcome,
                result=result,
            )
    except IntegrityError:
        row = _stored(driver, item.client_id)
        if row is not None:
            return _as_duplicate(item, row)
        raise
    return result


def _needs_pin_first(item: Item, driver: Driver) -> Shipment | None:
    if item.kind not in ("deliver", "status"):
        return None
    if item.kind == "status" and item.raw.get("to") != Status.DELIVERED:
        return None
    shipment = _job_for(driver, item.raw)
    return shipment if shipment.handover_pin_hash else None


def _process_job_item(driver: Driver, item: Item) -> dict:
    row = _stored(driver, item.client_id)
    if row is not None:
        return _as_duplicate(item, row)
    try:
        _check_window(item)
        # Wrong PINs are counted in their own committed transaction, before the claim.
        pinned = _needs_pin_first(item, driver)
        if pinned is not None:
            handover_pin_verify(shipment=pinned, pin=str(item.raw.get("pin", "")))
        with transaction.atomic():
            shipment = _apply(driver, item)
            result = _result(item, Outcome.APPLIED, shipment=_shipment_state(shipment))
            ReplayedUpdate.objects.create(
                driver=driver,
                client_id=item.client_id,
                kind=item.kind,
                shipment=shipment,
                device_time=item.device_time,
                outcome=Outcome.APPLIED,
                result=result,
            )
        return result
    except IntegrityError:
        row = _stored(driver, item.client_id)
        if row is not None:
            return _as_duplicate(item, row)
        logger.exception("Replay item %s hit a constraint", item.client_id)
        return _result(item, Outcome.REJECTED, code="invalid", message="This update is invalid.")
    except StorageUnavailable as exc:
        return _result(item, "retry", code=exc.code, message=exc.message)
    except DomainError as exc:
        conflict = isinstance(exc, InvalidTransition | StaleVersion | NotAllowed)
        outcome = Outcome.CONFLICT if conflict else Outcome.REJECTED
        shipment = None
        if item.kind != "duty" and not isinstance(exc, NotFound):
            canonical = tracking_numbers.normalize(str(item.raw.get("shipment", "")))
            shipment = Shipment.objects.filter(tracking_number=canonical).first()
        state = _shipment_state(shipment) if shipment and shipment.driver_id == driver.pk else None
        result = _result(item, outcome, code=exc.code, message=exc.message, shipment=state)
        return _record(driver, item, outcome, result, shipment)


def _fix_payload(item: Item) -> dict:
    raw = item.raw
    fix = {
        key: raw.get(key)
        for key in ("lat", "lng", "accuracy_m", "speed_mps", "heading", "shipment")
        if raw.get(key) is not None
    }
    fix.update(client_id=str(item.client_id), device_time=item.device_time.isoformat())
    return fix


def _process_fixes(driver: Driver, items: list[Item]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    if not items:
        return out
    try:
        from tracking.services import fixes_ingest
    except ImportError:
        for item in items:
            out[item.index] = _result(
                item,
                "rejected",
                code="unavailable",
                message="Location sharing is not available on this server yet.",
            )
        return out
    chunk = getattr(settings, "TRACKING_MAX_FIXES_PER_REQUEST", 500)
    results: list[dict] = []
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        results.extend(fixes_ingest(driver=driver, fixes=[_fix_payload(i) for i in part]))
    for item, res in zip(items, results, strict=True):
        res = dict(res)
        error = res.get("error")
        if isinstance(error, str):
            res["error"] = {"code": "invalid", "message": error} if error else None
        res.setdefault("type", "fix")
        out[item.index] = res
    return out


def updates_replay(*, driver: Driver, items: list[Any]) -> list[dict]:
    """Apply a batch of queued updates; returns one result per item, in the order given.

    Result: {"client_id", "type", "status", "error": {"code","message"} | None, ...};
    job items also carry "shipment": {"tracking_number","status","status_label","version"}.
    status: applied | duplicate (with original_status) | conflict | rejected | retry for job
    items; accepted | duplicate | flagged | rejected for fixes (from tracking).
    """
    if len(items) > settings.DRIVER_REPLAY_MAX_ITEMS:
        raise Invalid(
            f"Send at most {settings.DRIVER_REPLAY_MAX_ITEMS} updates at a time.",
            details={"field": "items"},
        )
    parsed = [_parse(i, raw) for i, raw in enumerate(items)]
    results: dict[int, dict] = {}
    valid: list[Item] = []
    for item in parsed:
        if item.error:
            results[item.index] = _result(item, "rejected", code="invalid", message=item.error)
        else:
            valid.append(item)
    valid.sort(key=lambda i: (i.device_time, i.seq, str(i.client_id)))

    seen: dict[tuple[str, uuid.UUID], int] = {}
    fixes: list[Item] = []
    for item in valid:
        key = ("fix" if item.kind == "fix" else "job", item.client_id)
        if key in seen:
            continue  # filled in from the first copy below
        seen[key] = item.index
        if item.kind == "fix":
            fixes.append(item)
        else:
            results[item.index] = _process_job_item(driver, item)
    results.update(_process_fixes(driver, fixes))
    for item in valid:
        first = seen[("fix" if item.kind == "fix" else "job", item.client_id)]
        if item.index != first:
            copy = dict(results[first])
            copy["original_status"] = copy.get("original_status", copy["status"])
            copy["status"] = "duplicate"
            results[item.index] = copy
    return [results[i] for i in range(len(parsed))]


def job_event_for_client_id(*, shipment: Shipment, client_id: str) -> ShipmentEvent | None:
    """The timeline event a replayed status change made (for support and tests)."""
    return shipment.events.filter(data__client_id=client_id).first()
