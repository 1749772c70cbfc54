"""WebSocket consumers: thin glue between sockets, the selectors/services and the groups of
tracking.broadcast.

Endpoints (see tracking/routing.py):
    /ws/shipments/<tracking>/  the shipment's customer, its driver, staff
    /ws/fleet/                 staff: every on-duty driver (coalesced positions) and every
                               shipment event
    /ws/driver/                the driver's own: assignments and messages in, fixes out

Client → server frames: {"type": ..., "data": {...}}
    subscribe {"after": <last seq seen>}   (re)authorise, then catch up: the missed events
                                           or a snapshot (shipment); a snapshot (fleet, driver)
    pong                                   answer to the server's ping (any frame will do)
    fix {...}                              /ws/driver/ only: one fix, answered by fix_ack
Server → client frames: {"type", "seq", "ts", "data"}; `error` for a bad client frame
(data: code, message): bad_json, bad_message, unknown_type, too_large, binary, invalid_fix.

Close codes (the socket is accepted first so browsers see the code):
    4401 not logged in                 4403 not allowed (role, or access revoked)
    4404 no such shipment (or not yours: the two are never told apart)
    4408 heartbeat: nothing heard from the client for 3 ping intervals
    4429 this server holds as many sockets as it may: retry later (with backoff)
"""

import asyncio
import contextlib
import json
import logging
import random
import time
import weakref
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from drivers.models import Driver
from dropmate.lib.exceptions import NotFound
from shipments import lifecycle
from shipments.selectors import shipment_get_for_user
from shipments.services import actor_role
from tracking import broadcast, selectors, services

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_HEARTBEAT = 4408
CLOSE_AT_CAPACITY = 4429

# Sockets this process holds now (all kinds): past TRACKING_WS_MAX_CONNECTIONS new ones are
# refused, so an overloaded server sheds connections instead of slowing everyone down.
open_sockets = 0
# Fixes being applied right now in this process; past TRACKING_WS_MAX_INFLIGHT_FIXES new ones
# are answered "busy" at once (the device keeps them and sends them again).
fixes_in_flight = 0
SHED = frozenset({services.BUSY, services.TOO_FAST})
# Fixes one driver socket may have in progress at once.
PENDING_PER_SOCKET = 4


class LoopLag:
    """How late this process's event loop runs timers (a sign it is past capacity), measured
    by one task that sleeps 50 ms at a time; started with the first driver socket. `behind()`
    is smoothed over about half a second, so a single slow step (a garbage collection, a
    flush) sheds nothing while sustained overload does."""

    INTERVAL = 0.05

    def __init__(self) -> None:
        self.lag = 0.0
        self.smoothed = 0.0
        self.task: asyncio.Task | None = None

    def ensure_started(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(self.INTERVAL)
            self.lag = max(0.0, time.monotonic() - start - self.INTERVAL)
            self.smoothed += 0.3 * (self.lag - self.smoothed)

    def behind(self) -> float:
        return self.smoothed


loop_lag = LoopLag()


class Admission:
    """The fixes this process takes on per second (TRACKING_WS_MAX_FIXES_PER_S, a token bucket
    holding a quarter second's worth): what it can apply with low latency on its core. Past
    it, fixes are answered "busy" at once, so what is accepted keeps its latency however much
    more is offered. 0 turns it off."""

    def __init__(self) -> None:
        self.tokens = 0.0
        self.at = 0.0

    def take(self) -> bool:
        rate = settings.TRACKING_WS_MAX_FIXES_PER_S
        if rate <= 0:
            return True
        now = time.monotonic()
        self.tokens = min(rate / 4, self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


admission = Admission()


class Heartbeat:
    """One task per event loop pings every socket about once per TRACKING_WS_HEARTBEAT_S and
    closes those silent for 3 intervals (a task per socket would cost memory per socket).
    First pings are spread over the interval so a connect storm doesn't become a ping storm."""

    def __init__(self) -> None:
        self.sockets: dict[asyncio.AbstractEventLoop, dict] = weakref.WeakKeyDictionary()
        self.tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = weakref.WeakKeyDictionary()

    def add(self, consumer: "LiveConsumer") -> None:
        loop = asyncio.get_running_loop()
        interval = settings.TRACKING_WS_HEARTBEAT_S
        consumer.next_ping = time.monotonic() + interval * random.uniform(0.5, 1.0)
        self.sockets.setdefault(loop, {})[consumer] = None
        task = self.tasks.get(loop)
        if task is None or task.done():
            self.tasks[loop] = loop.create_task(self._run(self.sockets[loop]))

    def discard(self, consumer: "LiveConsumer") -> None:
        with contextlib.suppress(RuntimeError):
            self.sockets.get(asyncio.get_running_loop(), {}).pop(consumer, None)

    async def _run(self, sockets: dict) -> None:
        while sockets:
            interval = settings.TRACKING_WS_HEARTBEAT_S
            await asyncio.sleep(min(1.0, interval / 4))
            now = time.monotonic()
            for consumer in list(sockets):
                if consumer.next_ping > now:
                    continue
                try:
                    if now - consumer.last_heard > 3 * interval:
                        sockets.pop(consumer, None)
                        await consumer.close(code=CLOSE_HEARTBEAT)
                    else:
                        consumer.next_ping = now + interval
                        await consumer.send_frame(PING)
                except Exception:  # a socket going away mid-ping is not our problem
                    sockets.pop(consumer, None)


heartbeat = Heartbeat()
PING = broadcast.message("ping", {})


class Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LiveConsumer(AsyncWebsocketConsumer):
    """Shared behaviour: authorise at connect and on every subscribe, error frames for bad
    client frames, a heartbeat that closes half-open sockets, the forwarders for groups."""

    handlers: dict[str, str] = {"subscribe": "on_subscribe", "pong": "on_pong", "ping": "on_ping"}

    async def connect(self) -> None:
        global open_sockets
        self.user = self.scope.get("user")
        self._counted = False
        self.last_heard = time.monotonic()
        await self.accept()
        if open_sockets >= settings.TRACKING_WS_MAX_CONNECTIONS:
            await self.refuse(CLOSE_AT_CAPACITY, "The server is busy: try again shortly.")
            return
        open_sockets += 1
        self._counted = True
        if self.user is None or not self.user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED, "Log in to follow live updates.")
            return
        try:
            groups = await self.authorise()
        except Refused as refused:
            await self.refuse(refused.code, refused.message)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)
        heartbeat.add(self)

    async def disconnect(self, code: int) -> None:
        global open_sockets
        if self._counted:
            open_sockets -= 1
            self._counted = False
        heartbeat.discard(self)
        await self.cleanup()

    async def cleanup(self) -> None:
        pass

    async def authorise(self) -> list[str]:
        """The groups this user may join here; raises Refused otherwise."""
        raise NotImplementedError

    async def refuse(self, code: int, message: str) -> None:
        await self.send_frame(broadcast.error_message("refused", message, close_code=code))
        await self.close(code=code)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        # Straight to the server (what AsyncWebsocketConsumer.send does, minus two layers).
        await self.base_send({"type": "websocket.send", "text": json.dumps(frame)})

    async def send_error(self, code: str, message: str, **details: Any) -> None:
        await self.send_frame(broadcast.error_message(code, message, **details))

    async def dispatch(self, message: dict) -> None:
        """As Channels' own, without closing stale database connections (a trip to a worker
        thread) before every message: at hundreds of messages a second that trip is most of
        the work. Handlers that use the database go through database_sync_to_async, which
        closes stale connections itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        self.last_heard = time.monotonic()
        if text_data is None:
            await self.send_error("binary", "Send JSON text frames.")
            return
        if len(text_data) > settings.TRACKING_WS_MAX_FRAME_BYTES:
            await self.send_error(
                "too_large", f"Frames are limited to {settings.TRACKING_WS_MAX_FRAME_BYTES} bytes."
            )
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error("bad_json", "That frame is not valid JSON.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_error("bad_message", 'A frame is an object with a "type".')
            return
        data = content.get("data", {})
        if data is None:
            data = {}
        if not isinstance(data, dict):
            await self.send_error("bad_message", '"data" must be an object.')
            return
        handler = self.handlers.get(content["type"])
        if handler is None:
            await self.send_error(
                "unknown_type",
                f"Unknown frame type {content['type'][:40]!r}.",
                type=content["type"][:40],
            )
            return
        await getattr(self, handler)(data)

    async def on_pong(self, data: dict) -> None:
        pass

    async def on_ping(self, data: dict) -> None:
        await self.send_frame(broadcast.message("pong", {}))

    async def on_subscribe(self, data: dict) -> None:
        raise NotImplementedError

    async def reauthorise(self) -> bool:
        """Check access again; close with the refusal's code when it is gone."""
        try:
            await self.authorise()
        except Refused as refused:
            await self.refuse(refused.code, refused.message)
            return False
        return True

    # --- group messages -----------------------------------------------------------------
    async def dropmate_forward(self, event: dict) -> None:
        await self.send_frame(event["message"])


class ShipmentConsumer(LiveConsumer):
    """/ws/shipments/<tracking>/: one shipment's events, location and ETA."""

    async def authorise(self) -> list[str]:
        found = await database_sync_to_async(self._load)()
        if found is None:
            raise Refused(CLOSE_NOT_FOUND, "No such shipment.")
        # Only what the socket needs is kept (a server holds thousands of these).
        self.tracking, self.role = found.tracking_number, actor_role(self.user)
        return [broadcast.shipment_group(self.tracking)]

    def _load(self):
        tracking = self.scope["url_route"]["kwargs"]["tracking"]
        try:
            return shipment_get_for_user(user=self.user, tracking_number=tracking)
        except NotFound:
            return None

    def _catch_up(self, after: int) -> list[dict] | None:
        shipment = self._load()
        if shipment is None:
            return None
        return selectors.shipment_catch_up(shipment=shipment, user=self.user, after=after)

    async def on_subscribe(self, data: dict) -> None:
        after = data.get("after", 0)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            await self.send_error("bad_message", '"after" must be a whole number ≥ 0.')
            return
        # Authorised again and caught up in one trip to a worker thread.
        frames = await database_sync_to_async(self._catch_up)(after)
        if frames is None:
            await self.refuse(CLOSE_NOT_FOUND, "No such shipment.")
            return
        for frame in frames:
            await self.send_frame(frame)

    async def dropmate_forward(self, event: dict) -> None:
        await self.send_frame(event["message"])
        if event["message"].get("type") == "shipment_assigned":
            # A reassigned driver loses this shipment: check again after every assignment.
            await self.reauthorise()

    async def dropmate_location(self, event: dict) -> None:
        if self.role == lifecycle.CUSTOMER and not event.get("customer_visible"):
            return
        await self.send_frame(event["message"])


class FleetConsumer(LiveConsumer):
    """/ws/fleet/: staff only. Every shipment event as it comes, and driver positions
    coalesced into at most one `fleet_positions` frame per TRACKING_FLEET_COALESCE_S."""

    async def authorise(self) -> list[str]:
        if actor_role(self.user) not in lifecycle.STAFF:
            raise Refused(CLOSE_FORBIDDEN, "The fleet map is for staff.")
        self.pending: dict[int, dict] = {}
        self._flush: asyncio.Task | None = None
        self._last_flush = 0.0
        return [broadcast.FLEET_GROUP, broadcast.FLEET_POSITIONS_GROUP]

    async def on_subscribe(self, data: dict) -> None:
        if not await self.reauthorise():
            return
        snapshot = await database_sync_to_async(selectors.fleet_snapshot)(user=self.user)
        await self.send_frame(broadcast.message("fleet_snapshot", snapshot))

    async def dropmate_fleet_position(self, event: dict) -> None:
        self._pend([event["position"]])

    async def dropmate_fleet_positions(self, event: dict) -> None:
        self._pend(event["positions"])

    def _pend(self, positions: list[dict]) -> None:
        for position in positions:
            self.pending[position["driver_id"]] = position
        if self._flush is None or self._flush.done():
            wait = self._last_flush + settings.TRACKING_FLEET_COALESCE_S - time.monotonic()
            self._flush = asyncio.ensure_future(self._flush_later(max(0.0, wait)))

    async def _flush_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        positions, self.pending = list(self.pending.values()), {}
        self._last_flush = time.monotonic()
        if positions:
            await self.send_frame(broadcast.fleet_positions_message(positions))

    async def cleanup(self) -> None:
        flush = getattr(self, "_flush", None)
        if flush is not None:
            flush.cancel()


class DriverConsumer(LiveConsumer):
    """/ws/driver/: the driver's own socket. Receives their assignments and dispatch
    messages; sends fixes, each answered by a `fix_ack` frame."""

    handlers = {**LiveConsumer.handlers, "fix": "on_fix"}

    async def authorise(self) -> list[str]:
        driver = await database_sync_to_async(
            lambda: Driver.objects.filter(user=self.user).first()
        )()
        if driver is None or actor_role(self.user) != lifecycle.DRIVER:
            raise Refused(CLOSE_FORBIDDEN, "This socket is for drivers.")
        self.driver = driver
        self._window_start, self._window_count = 0.0, 0
        self._pending = 0
        self._fix_tasks: set[asyncio.Task] = set()
        loop_lag.ensure_started()
        return [broadcast.driver_group(driver.pk)]

    async def connect(self) -> None:
        await super().connect()
        if self.groups:
            # Ready before the first fix: the location pipeline's view of this driver (after
            # joining the group, so no push is missed while it loads).
            await services.live.driver_context(self.driver.pk)

    async def dropmate_forward(self, event: dict) -> None:
        # One of this driver's shipments changed: the pipeline must not use a cached status.
        services.driver_context_forget(self.driver.pk)
        await self.send_frame(event["message"])

    async def on_subscribe(self, data: dict) -> None:
        if not await self.reauthorise():
            return
        jobs = await database_sync_to_async(self._jobs)()
        await self.send_frame(broadcast.message("driver_snapshot", {"jobs": jobs}))

    def _jobs(self) -> list[dict]:
        return [
            {
                "tracking_number": s.tracking_number,
                "status": s.status,
                "version": s.version,
                "last_seq": s.last_seq,
            }
            for s in selectors.driver_shipments_active(driver_id=self.driver.pk)
        ]

    async def on_fix(self, data: dict) -> None:
        global fixes_in_flight
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        if self._window_count > settings.TRACKING_WS_MAX_FIX_RATE:
            await self._ack(services.result_refused(data, services.TOO_FAST))
        elif (
            fixes_in_flight >= settings.TRACKING_WS_MAX_INFLIGHT_FIXES
            or self._pending >= PENDING_PER_SOCKET
            or loop_lag.behind() > settings.TRACKING_WS_MAX_QUEUE_S
            or not admission.take()
        ):
            # Shed load: answer at once instead of queueing behind work we cannot keep up with.
            await self._ack(services.result_refused(data, services.BUSY))
        else:
            # Applied in the background so a socket's next frame is read at once; acks may
            # come back out of order (they carry the client id; the pipeline orders by time).
            fixes_in_flight += 1
            self._pending += 1
            task = asyncio.ensure_future(self._apply_fix(data, now))
            self._fix_tasks.add(task)
            task.add_done_callback(self._fix_tasks.discard)

    async def _apply_fix(self, data: dict, queued_at: float) -> None:
        global fixes_in_flight
        try:
            if time.monotonic() - queued_at > settings.TRACKING_WS_MAX_QUEUE_S:
                # It waited too long for its turn: the process is behind. Shedding it keeps
                # the latency of what we do accept bounded instead of growing a queue.
                result = services.result_refused(data, services.BUSY)
            else:
                # Every fix is authorised again by the pipeline (the driver's duty state).
                result = await services.fix_apply(driver_id=self.driver.pk, raw=data)
        except Exception:
            # Redis or the database is down: the device keeps the fix and resends it.
            logger.exception("applying a fix failed")
            result = services.result_refused(data, services.BUSY)
        finally:
            fixes_in_flight -= 1
            self._pending -= 1
        await self._ack(result)

    async def _ack(self, result: dict) -> None:
        await self.send_frame(broadcast.fix_ack_message(result))
        # An error frame is for a bad fix; "busy" and "too fast" are load shedding, said in
        # the ack alone (an extra frame per shed fix would only add to the load).
        if result["status"] == "rejected" and result["error"] not in SHED:
            await self.send_error("invalid_fix", result["error"], client_id=result["client_id"])

    async def cleanup(self) -> None:
        for task in list(getattr(self, "_fix_tasks", ())):
            task.cancel()
