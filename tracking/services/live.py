"""The socket hot path: a fix from a driver's socket, applied on the server's event loop.

The HTTP path (`fixes_ingest`) runs each batch in one transaction. A socket sends fixes one by
one, up to a thousand a second across a fleet, so here nothing touches the database per fix:

- the driver's context (on duty, active shipments, today's plan order, last position) is held
  in this process and reloaded when one of their shipments changes or their duty changes (the
  driver's socket hears both: `driver_context_forget`), and at least every CONTEXT_TTL_S;
- the client id is claimed and the position stored in one Redis script (tracking.cache), with
  the claims of a burst of fixes pipelined together;
- the position goes to the watchers of the driver's shipments at once (privacy decided here),
  and to the fleet through a per-process coalescer (one group message per
  TRACKING_FLEET_PUBLISH_S with every driver that moved);
- the history row waits in tracking.buffer for the next bulk insert;
- ETA and "driver is nearby" (database writes) run in a worker thread at most every
  TRACKING_ETA_EVERY_S per driver, and at once when the driver is within the nearby radius of
  a drop-off not yet told.
"""

import asyncio
import logging
import random
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from drivers.models import Driver
from shipments.lifecycle import Status
from shipments.models import Shipment
from tracking import broadcast, eta, selectors
from tracking import cache as live
from tracking.buffer import buffer
from tracking.models import LocationFix
from tracking.services.fixes import (
    ACCEPTED,
    BUSY,
    DUPLICATE,
    FLAGGED,
    OFF_DUTY,
    REJECTED,
    FixRejected,
    fix_is_jump,
    fix_parse,
    fix_result,
    position_audience,
    position_effects,
    position_from_fix,
    speed_observed,
)

logger = logging.getLogger(__name__)

# A safety net: the context is dropped on every change the driver's socket hears about.
CONTEXT_TTL_S = 30.0
NOT_YOURS = "No such shipment among your jobs."


@dataclass
class DriverContext:
    driver_id: int
    on_duty: bool
    shipments: list[Shipment]
    plan: list[int]
    position: dict[str, Any] | None
    position_at: datetime | None
    expires: float
    ids: dict[str, int] = field(default_factory=dict)
    effects_at: float = 0.0
    effects_running: bool = False
    forgotten: bool = False
    generation: int = 0


_contexts: dict[int, DriverContext] = {}
# Loads in progress, per event loop (futures belong to one loop).
_loading: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def driver_context_forget(driver_id: int) -> None:
    """One of the driver's shipments changed, or their duty: reload before the next fix. The
    last position is kept (it is only ever replaced by a newer one)."""
    _generations[driver_id] = _generations.get(driver_id, 0) + 1
    context = _contexts.get(driver_id)
    if context is not None:
        context.forgotten = True


# Bumped by every forget: a load that started before a change doesn't count as fresh.
_generations: dict[int, int] = {}


def _context_load(driver_id: int) -> DriverContext:
    from tracking.services.fixes import driver_context_load

    generation = _generations.get(driver_id, 0)
    driver = Driver.objects.filter(pk=driver_id).first()
    if driver is None:
        return DriverContext(driver_id, False, [], [], None, None, time.monotonic())
    on_duty, shipments, plan = driver_context_load(driver)
    position = selectors.driver_position(driver=driver)
    return DriverContext(
        driver_id=driver_id,
        on_duty=on_duty,
        shipments=shipments,
        plan=plan,
        position=position,
        position_at=selectors.position_time(position["at"]) if position else None,
        # Spread over [TTL, 2 TTL] so the drivers' refreshes don't all come at once.
        expires=time.monotonic() + CONTEXT_TTL_S * random.uniform(1.0, 2.0),
        ids={s.tracking_number: s.pk for s in shipments},
        # Spread the drivers' ETA runs over the interval rather than all at once.
        effects_at=time.monotonic() - random.uniform(0, settings.TRACKING_ETA_EVERY_S),
        generation=generation,
    )


async def driver_context(driver_id: int) -> DriverContext:
    """The driver's context. Missing or dropped (a change): loaded before the fix goes on,
    once however many fixes wait for it. Merely old (CONTEXT_TTL_S): used as it is while a
    fresh one loads in the background."""
    context = _contexts.get(driver_id)
    if context is not None and not context.forgotten:
        if context.expires <= time.monotonic():
            _reload(driver_id)
        return context
    return await asyncio.shield(_reload(driver_id))


def _reload(driver_id: int) -> asyncio.Future:
    loading = _loading.setdefault(asyncio.get_running_loop(), {})
    future = loading.get(driver_id)
    if future is None:
        future = loading[driver_id] = asyncio.ensure_future(_load_and_install(driver_id))
        future.add_done_callback(lambda _: loading.pop(driver_id, None))
    return future


async def _load_and_install(driver_id: int) -> DriverContext:
    fresh: DriverContext = await database_sync_to_async(_context_load)(driver_id)
    if fresh.generation != _generations.get(driver_id, 0):
        fresh.forgotten = True  # changed while loading: the next fix loads again
    old = _contexts.get(driver_id)
    if old is not None and old.position_at is not None and old is not fresh:
        # A fix applied while this loaded is newer than what the store said then.
        if fresh.position_at is None or old.position_at > fresh.position_at:
            fresh.position, fresh.position_at = old.position, old.position_at
        fresh.effects_at = old.effects_at
        fresh.effects_running = old.effects_running
    if len(_contexts) > 50_000:
        _contexts.clear()
    _contexts[driver_id] = fresh
    return fresh


def _shipment_of(driver_id: int, tracking_number: str) -> int | None:
    return (
        Shipment.objects.filter(driver_id=driver_id, tracking_number=tracking_number)
        .values_list("pk", flat=True)
        .first()
    )


def _stored(driver_id: int, client_id: str) -> bool:
    return LocationFix.objects.filter(driver_id=driver_id, client_id=client_id).exists()


async def fix_apply(*, driver_id: int, raw: Any) -> dict[str, Any]:
    """Apply one fix from the driver's socket: the same checks and result as
    `fixes_ingest` (accepted, duplicate, flagged or rejected with a reason)."""
    client_id = raw.get("client_id") if isinstance(raw, dict) else None
    context = await driver_context(driver_id)
    if not context.on_duty:
        return fix_result(client_id, REJECTED, OFF_DUTY)
    now = timezone.now()
    try:
        fix = fix_parse(raw, now=now)
    except FixRejected as exc:
        return fix_result(client_id, REJECTED, str(exc))
    shipment_id = None
    if fix.shipment:
        shipment_id = context.ids.get(fix.shipment)
        if shipment_id is None:
            shipment_id = await database_sync_to_async(_shipment_of)(driver_id, fix.shipment)
            if shipment_id is None:
                return fix_result(fix.client_id, REJECTED, NOT_YOURS)
    if not buffer.has_room(1):
        return fix_result(fix.client_id, REJECTED, BUSY)
    # Replayed late (an offline queue): its claim may have expired from the store.
    late = live.dedup_needs_history((now - fix.device_time).total_seconds())
    if late and await database_sync_to_async(_stored)(driver_id, fix.client_id):
        return fix_result(fix.client_id, DUPLICATE)

    previous = context.position
    flagged = fix_is_jump(previous, fix)
    position = None
    if not flagged and (context.position_at is None or fix.device_time > context.position_at):
        learned = eta.speed_learn(
            previous=(previous or {}).get("speed_learned"),
            observed=speed_observed(previous, fix),
            start=settings.TRACKING_DEFAULT_SPEED_MPS,
        )
        position = position_from_fix(fix, learned=learned)
    layer = get_channel_layer()
    audience = sends = None
    if position is not None:
        audience = _audience(context, position, now)
        sends = _location_sends(audience)
    in_script = bool(sends) and live.publishes_with_claims(layer)
    publish = [(layer.group_channel(g), layer.serialize(m)) for g, m in sends] if in_script else []
    answer = await live.fix_claim(driver_id, fix.client_id, position, publish)
    if answer == live.DUPLICATE:
        return fix_result(fix.client_id, DUPLICATE)
    newest = answer == live.NEWEST and position is not None
    row = (  # buffer.COLUMNS
        driver_id,
        shipment_id,
        fix.client_id,
        fix.device_time,
        now,
        fix.lat,
        fix.lng,
        fix.accuracy_m,
        fix.speed_mps,
        fix.heading,
        flagged,
    )
    buffer.add([row], (driver_id, fix.lat, fix.lng, fix.device_time) if newest else None)
    if newest:
        if context.position_at is None or fix.device_time > context.position_at:
            context.position, context.position_at = position, fix.device_time
        if layer is not None:
            _fleet_coalescer(layer).put(context.driver_id, audience[1])
            if sends and not in_script:
                _spawn(_send_all(layer, sends))
        _effects_maybe(context, position, now)
    return fix_result(fix.client_id, FLAGGED if flagged else ACCEPTED)


def _audience(context: DriverContext, position: dict[str, Any], now: datetime) -> tuple:
    """(position as clients see it, the fleet map's entry, [(tracking, customer may see)])."""
    ordered = selectors.stops_in_order(
        position=position, shipments=context.shipments, plan=context.plan
    )
    shown, fleet, visible = position_audience(
        on_duty=context.on_duty,
        shipments=context.shipments,
        ordered=ordered,
        position=position,
        now=now,
    )
    return shown, {"driver_id": context.driver_id, **fleet}, visible


def _location_sends(audience: tuple) -> list[tuple[str, dict[str, Any]]]:
    shown, _, visible = audience
    return [
        (
            broadcast.shipment_group(tracking_number),
            {
                "type": broadcast.LOCATION,
                "message": broadcast.location_message(tracking_number, shown),
                "customer_visible": customer_visible,
            },
        )
        for tracking_number, customer_visible in visible
    ]


async def _send_all(layer, sends: list[tuple[str, dict[str, Any]]]) -> None:
    for failed in await asyncio.gather(
        *(layer.group_send(group, message) for group, message in sends), return_exceptions=True
    ):
        if isinstance(failed, Exception):
            # The fix is stored; watchers recover through catch-up.
            logger.warning("location push failed: %r", failed)


# --- ETA and "nearby", off the event loop ----------------------------------------------------
_effect_tasks: set[asyncio.Task] = set()


def _spawn(coro) -> None:
    """Run in the background (kept referenced until done)."""
    task = asyncio.ensure_future(coro)
    _effect_tasks.add(task)
    task.add_done_callback(_effect_tasks.discard)


def _near_untold_dropoff(context: DriverContext, position: dict[str, Any]) -> bool:
    here = (position["lat"], position["lng"])
    return any(
        s.status == Status.OUT_FOR_DELIVERY
        and s.nearby_notified_at is None
        and s.dropoff_point is not None
        and eta.distance_m(here, s.dropoff_point) <= settings.TRACKING_NEARBY_RADIUS_M
        for s in context.shipments
    )


def _effects_maybe(context: DriverContext, position: dict[str, Any], now: datetime) -> None:
    if context.effects_running:
        return
    due = time.monotonic() - context.effects_at >= settings.TRACKING_ETA_EVERY_S
    if not due and not _near_untold_dropoff(context, position):
        return
    context.effects_running = True
    context.effects_at = time.monotonic()
    _spawn(_effects(context, position, now))


async def _effects(context: DriverContext, position: dict[str, Any], now: datetime) -> None:
    try:
        await database_sync_to_async(_effects_sync)(context, position, now)
    except Exception:
        logger.exception("ETA update for driver %s failed", context.driver_id)
    finally:
        context.effects_running = False
        current = _contexts.get(context.driver_id)
        if current is not None:  # reloaded meanwhile: it inherited the flag
            current.effects_running = False


def _effects_sync(context: DriverContext, position: dict[str, Any], now: datetime) -> None:
    """ETA and "nearby" on the context's shipments (reloaded whenever one changes): no reads,
    and writes only when an ETA moved by a minute or "nearby" fires. The context's copies are
    updated by position_effects itself (predicted arrival, nearby told)."""
    ordered = selectors.stops_in_order(
        position=position, shipments=context.shipments, plan=context.plan
    )
    with transaction.atomic():
        position_effects(shipments=context.shipments, ordered=ordered, position=position, now=now)


# --- the fleet: coalesced per process --------------------------------------------------------
class _FleetCoalescer:
    """Every driver position that changed in this process, sent to the fleet sockets as one
    group message per TRACKING_FLEET_PUBLISH_S (each fleet socket coalesces again, to one
    frame per TRACKING_FLEET_COALESCE_S)."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.pending: dict[int, dict[str, Any]] = {}
        self.task: asyncio.Task | None = None

    def put(self, driver_id: int, position: dict[str, Any]) -> None:
        self.pending[driver_id] = position
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._send_later())

    async def _send_later(self) -> None:
        await asyncio.sleep(settings.TRACKING_FLEET_PUBLISH_S)
        positions, self.pending = list(self.pending.values()), {}
        try:
            await self.layer.group_send(
                broadcast.FLEET_POSITIONS_GROUP,
                {"type": broadcast.FLEET_POSITIONS, "positions": positions},
            )
        except Exception as exc:  # noqa: BLE001 (the next batch carries newer positions)
            logger.warning("fleet push failed: %r", exc)


_coalescers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fleet_coalescer(layer) -> _FleetCoalescer:
    loop = asyncio.get_running_loop()
    coalescer = _coalescers.get(loop)
    if coalescer is None or coalescer.layer is not layer:
        coalescer = _coalescers[loop] = _FleetCoalescer(layer)
    return coalescer
