"""The fleet simulator behind `manage.py simulate_fleet` (and the benchmark's load): demo
drivers that move along plausible paths between their stops and send real fixes through the
same pipeline, in-process, over HTTP or over the driver socket."""

import asyncio
import http.client
import json
import math
import random
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from drivers.models import Driver, Vehicle
from dropmate.accounts.models import Role, User
from tracking import eta, selectors

CENTRE = (51.0543, 3.7174)  # Ghent: the demo city


@dataclass
class SimDriver:
    driver: Driver
    stops: list[tuple[float, float]]
    speed: float
    rng: random.Random
    lat: float = 0.0
    lng: float = 0.0
    heading: float = 0.0
    target: int = 0
    session: str = ""
    sent: Counter = field(default_factory=Counter)

    def step(self, seconds: float) -> None:
        """Drive towards the next stop for `seconds`; pick the next stop on arrival."""
        left = self.speed * seconds
        while left > 0:
            goal = self.stops[self.target]
            dist = eta.distance_m((self.lat, self.lng), goal)
            if dist <= left:
                self.lat, self.lng = goal
                left -= dist
                self.target = (self.target + 1) % len(self.stops)
                if dist == 0 and left > 0 and len(self.stops) == 1:
                    return
                continue
            k = left / dist
            dlat, dlng = goal[0] - self.lat, goal[1] - self.lng
            self.heading = (
                math.degrees(math.atan2(dlng * math.cos(math.radians(self.lat)), dlat)) + 360
            ) % 360
            self.lat += dlat * k
            self.lng += dlng * k
            left = 0

    def fix(self) -> dict:
        jitter = self.rng.uniform(-0.00002, 0.00002)
        return {
            "client_id": str(uuid.uuid4()),
            "device_time": datetime.now(UTC).isoformat(),
            "lat": round(self.lat + jitter, 6),
            "lng": round(self.lng + jitter, 6),
            "accuracy_m": round(self.rng.uniform(4, 15), 1),
            "speed_mps": round(self.speed, 1),
            "heading": round(self.heading, 1) % 360,
        }


def random_point(rng: random.Random, around: tuple[float, float], km: float = 3.0):
    r = km * math.sqrt(rng.random()) / 111.0
    a = rng.random() * 2 * math.pi
    return (
        around[0] + r * math.cos(a),
        around[1] + r * math.sin(a) / math.cos(math.radians(around[0])),
    )


def drivers_prepare(*, count: int, seed: int = 1) -> list[SimDriver]:
    """`count` on-duty drivers (demo ones are created as needed, never in production), each
    with a loop of stops: their active shipments' pickups and drop-offs, else random points."""
    if settings.IS_PRODUCTION:
        raise RuntimeError("The fleet simulator is refused in production mode (DJANGO_DEBUG=1).")
    drivers = list(
        Driver.objects.filter(on_duty=True).select_related("user").order_by("pk")[:count]
    )
    n = 0
    while len(drivers) < count:
        n += 1
        email = f"sim-{n:04d}@dropmate.local"
        user, _ = User.objects.get_or_create(
            email=email, defaults={"role": Role.DRIVER, "first_name": f"Sim {n}"}
        )
        vehicle, _ = Vehicle.objects.get_or_create(
            plate=f"SIM-{n:04d}", defaults={"name": f"Sim van {n}", "capacity_kg": Decimal("400")}
        )
        driver, _ = Driver.objects.get_or_create(user=user, defaults={"vehicle": vehicle})
        if not driver.on_duty:
            driver.on_duty = True
            driver.save(update_fields=["on_duty"])
        if all(d.pk != driver.pk for d in drivers):
            drivers.append(driver)
    rng = random.Random(seed)
    sims = []
    for driver in drivers:
        stops = []
        for s in selectors.driver_shipments_active(driver_id=driver.pk):
            point = s.pickup_point if s.status == "assigned" else s.dropoff_point
            if point:
                stops.append(point)
        while len(stops) < 3:
            stops.append(random_point(rng, CENTRE))
        start = random_point(rng, stops[0], km=1.0)
        sims.append(
            SimDriver(
                driver=driver,
                stops=stops,
                speed=rng.uniform(7, 12),
                rng=random.Random(rng.random()),
                lat=start[0],
                lng=start[1],
            )
        )
    return sims


def session_for(user: User) -> str:
    """A logged-in session key for `user` (the simulator acts as the driver's phone)."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


Report = Callable[[float, Counter], None]


def run(*, sims: list[SimDriver], rate: float, duration: float, send, report: Report) -> Counter:
    """Send `rate` fixes per second in all, spread over the drivers, for `duration` seconds.
    `send(batch)` takes [(SimDriver, fix)] and returns the result statuses."""
    totals: Counter = Counter()
    per_driver_interval = len(sims) / rate
    start = time.monotonic()
    next_at = [start + i * per_driver_interval / len(sims) for i in range(len(sims))]
    last_move = [start] * len(sims)
    last_report = start
    while True:
        now = time.monotonic()
        if now - start >= duration:
            break
        batch = []
        for i, sim in enumerate(sims):
            if next_at[i] <= now:
                sim.step(now - last_move[i])
                last_move[i] = now
                batch.append((sim, sim.fix()))
                next_at[i] += per_driver_interval
        if batch:
            totals.update(send(batch))
            totals["sent"] += len(batch)
        if now - last_report >= 1.0:
            report(now - start, totals)
            last_report = now
        pause = min(next_at) - time.monotonic()
        if pause > 0:
            time.sleep(min(pause, 0.05))
    report(time.monotonic() - start, totals)
    return totals


def direct_sender():
    from tracking.services import fixes_ingest

    def send(batch):
        out = []
        for sim, fix in batch:
            out += [r["status"] for r in fixes_ingest(driver=sim.driver, fixes=[fix])]
        return out

    return send


def http_sender(base_url: str, threads: int = 8):
    """POST each driver's fixes to /api/v1/drivers/me/locations with its session."""
    parsed = urlparse(base_url)
    pool = ThreadPoolExecutor(max_workers=threads)
    csrf = secrets.token_hex(16)
    local = {}

    def post(sim, fixes):
        import threading

        key = threading.get_ident()
        conn = local.get(key)
        if conn is None:
            conn = local[key] = http.client.HTTPConnection(
                parsed.hostname, parsed.port or 80, timeout=10
            )
        body = json.dumps({"fixes": fixes})
        headers = {
            "Content-Type": "application/json",
            "Cookie": f"sessionid={sim.session}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
        }
        try:
            conn.request("POST", "/api/v1/drivers/me/locations", body, headers)
            response = conn.getresponse()
            data = json.loads(response.read() or b"{}")
        except (OSError, http.client.HTTPException, ValueError):
            local.pop(key, None)
            return ["error"] * len(fixes)
        return [r["status"] for r in data.get("results", [])] or ["error"] * len(fixes)

    def send(batch):
        futures = [pool.submit(post, sim, [fix]) for sim, fix in batch]
        return [s for f in futures for s in f.result()]

    return send


class SocketSender:
    """One /ws/driver/ socket per driver on a background event loop; fix_ack frames counted."""

    def __init__(self, base_url: str, sims: list[SimDriver]) -> None:
        import threading

        parsed = urlparse(base_url)
        self.ws_url = f"ws://{parsed.hostname}:{parsed.port or 80}/ws/driver/"
        self.origin = f"http://{parsed.hostname}:{parsed.port or 80}"
        self.acks: Counter = Counter()
        self.loop = asyncio.new_event_loop()
        self.sockets: dict[int, object] = {}
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._open_all(sims), self.loop).result(60)

    async def _open_all(self, sims):
        import websockets

        async def open_one(sim):
            ws = await websockets.connect(
                self.ws_url,
                additional_headers={"Cookie": f"sessionid={sim.session}", "Origin": self.origin},
                compression=None,
                open_timeout=20,
            )
            self.sockets[sim.driver.pk] = ws
            asyncio.ensure_future(self._read(ws))

        await asyncio.gather(*(open_one(s) for s in sims))

    async def _read(self, ws):
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame["type"] == "fix_ack":
                    self.acks[frame["data"]["status"]] += 1
                elif frame["type"] == "ping":
                    await ws.send('{"type":"pong"}')
        except Exception:  # closed
            self.acks["closed"] += 1

    def __call__(self, batch):
        async def send_all():
            await asyncio.gather(
                *(
                    self.sockets[sim.driver.pk].send(json.dumps({"type": "fix", "data": fix}))
                    for sim, fix in batch
                ),
                return_exceptions=True,
            )

        asyncio.run_coroutine_threadsafe(send_all(), self.loop).result(30)
        return []

    def close(self):
        async def close_all():
            await asyncio.gather(
                *(ws.close() for ws in self.sockets.values()), return_exceptions=True
            )

        asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
