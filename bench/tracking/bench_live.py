#!/usr/bin/env python
# ruff: noqa: E501  (report lines read better unbroken)
"""Live-tracking benchmark: daphne + Redis pub/sub channel layer + PostgreSQL + Redis on this
machine, load clients included (this process, asyncio + `websockets`). Prints every figure
and exits 1 when a daphne target is missed (uvicorn and the bare broadcaster are comparisons).

    .venv/bin/python bench/tracking/bench_live.py [--duration 60] [--connections 10000] [--quick]

Phases, each bounded in time:
  A  sustained fixes: --rate fixes/s (1,000) from --drivers driver sockets for --duration s;
     every driver's customer watches its shipment. Targets: 100 % accepted and persisted,
     100 % delivered to the watching customer, p99 fix→watcher ≤ 250 ms.
  C  fan-out: one fix to 1,000 watchers of one shipment, --rounds times. Target p99 ≤ 250 ms;
     the same clients against a bare `websockets` broadcaster give the ceiling and a ratio.
  B  connections: --connections sockets held; server memory per connection (≤ 40 KB).
  D  past capacity: 3× the rate for 10 s: the server sheds (busy acks) and the p99 latency of
     what it accepts stays bounded (≤ 1 s, and the second half no worse than 2× the first + 250 ms).
Then A and C again on uvicorn (--ws-per-message-deflate false) for comparison.

Uses its own PostgreSQL database (dropped and re-created) and the Redis URL given (only keys
it made are deleted). Nothing leaves 127.0.0.1.
"""

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
import websockets

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FAILED: list[str] = []


def say(msg: str) -> None:
    print(msg, flush=True)


def check(name: str, ok: bool, figure: str) -> None:
    say(f"  {'PASS' if ok else 'MISS'}  {name}: {figure}")
    if not ok:
        FAILED.append(name)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on {port} did not start")


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (the workers of dropmate.serve)."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += rss_kb(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


# --- setup ------------------------------------------------------------------------------------
SETUP = """
import json, sys
from django.conf import settings
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # sessions only
from tests.factories import DriverFactory, UserFactory, make_shipment
from dropmate.accounts.models import Role
from tracking.simulator import session_for
staff = UserFactory(role=Role.DISPATCHER, is_staff=True)
rows = []
for i in range(N):
    customer = UserFactory(role=Role.CUSTOMER)
    driver = DriverFactory()
    lat, lng = 51.0 + (i // 20) * 0.01, 3.6 + (i % 20) * 0.01
    s = make_shipment(customer=customer, status="out_for_delivery", driver=driver, staff=staff,
                      dropoff_lat=lat + 0.05, dropoff_lng=lng)
    rows.append({"tracking": s.tracking_number, "driver": driver.pk, "lat": lat, "lng": lng,
                 "customer": session_for(customer), "dan": session_for(driver.user)})
print("BENCH" + json.dumps({"rows": rows, "staff": session_for(staff)}))
"""


def prepare(env: dict, drivers: int) -> dict:
    dsn = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = env["BENCH_DB"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    r = redis.Redis.from_url(env["REDIS_URL"])
    stale = list(r.scan_iter("dropmate:*tracking*", count=1000))
    if stale:
        r.delete(*stale)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    code = SETUP.replace("range(N)", f"range({drivers})")
    out = subprocess.run(
        [*manage, "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out[out.index("BENCH") + 5 :].splitlines()[0])


WORKERS = 2


def start_server(kind: str, env: dict, port: int) -> subprocess.Popen:
    if kind == "daphne":
        # dropmate.serve: WORKERS daphne processes sharing the port (SO_REUSEPORT).
        cmd = [
            sys.executable,
            "-m",
            "dropmate.serve",
            "--workers",
            str(WORKERS),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
        ]
    elif kind == "uvicorn":
        cmd = [
            str(BIN / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--ws-per-message-deflate",
            "false",
            "--no-access-log",
            "--log-level",
            "warning",
            "dropmate.asgi:application",
        ]
    else:
        cmd = [sys.executable, str(Path(__file__).with_name("bare_broadcaster.py")), str(port)]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(f"/tmp/bench-live-{kind}.log", "w"),  # noqa: SIM115 (lives as long as the server)
    )
    wait_port(port)
    return proc


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=25)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def count_fixes(env: dict) -> int:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{env['BENCH_DB']}") as conn:
        return conn.execute("SELECT count(*) FROM tracking_locationfix").fetchone()[0]


# --- clients ----------------------------------------------------------------------------------
class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"

    async def open(self, path: str, session: str | None):
        headers = {"Origin": self.origin}
        if session:
            headers["Cookie"] = f"sessionid={session}"
        return await websockets.connect(
            f"ws://127.0.0.1:{self.port}{path}",
            additional_headers=headers,
            compression=None,
            open_timeout=60,
            max_queue=None,
            ping_interval=None,
        )


async def open_many(client: Client, targets: list[tuple[str, str | None]], batch: int = 50):
    """Open sockets in batches, as a fleet of phones would, not all in the same millisecond."""
    socks = []
    for start in range(0, len(targets), batch):
        got = await asyncio.gather(
            *(client.open(path, session) for path, session in targets[start : start + batch]),
            return_exceptions=True,
        )
        socks += got
    failed = [g for g in socks if isinstance(g, BaseException)]
    if failed:
        say(f"    {len(failed)} of {len(targets)} sockets failed to open, e.g. {failed[0]!r}")
    return socks


def fix(lat: float, lng: float) -> dict:
    return {
        "client_id": str(uuid.uuid4()),
        "device_time": datetime.now(UTC).isoformat(),
        "lat": round(lat, 6),
        "lng": round(lng, 6),
        "accuracy_m": 8,
        "speed_mps": 9.0,
    }


async def reader(ws, on_frame) -> None:
    try:
        async for text in ws:
            frame = json.loads(text)
            if frame["type"] == "ping":
                await ws.send('{"type":"pong"}')
            else:
                on_frame(frame)
    except websockets.ConnectionClosed:
        pass


async def phase_fixes(client: Client, data: dict, rate: float, duration: float, label: str):
    """Drivers send `rate` fixes/s in all; each customer watches their own shipment."""
    rows = data["rows"]
    sent_at: dict[tuple, float] = {}
    latencies: list[float] = []
    delivered: set = set()
    acks: dict[str, int] = {}
    ack_lat: list[tuple[float, float]] = []  # (sent offset, latency) for accepted
    ack_sent: dict[str, float] = {}
    t0 = time.monotonic()

    def on_watch(frame):
        if frame["type"] == "location":
            key = (frame["data"]["tracking_number"], frame["data"]["at"])
            if key in sent_at and key not in delivered:
                delivered.add(key)
                latencies.append(time.monotonic() - sent_at[key])

    def on_driver(frame):
        if frame["type"] == "fix_ack":
            status = frame["data"]["status"]
            acks[status] = acks.get(status, 0) + 1
            started = ack_sent.pop(frame["data"]["client_id"], None)
            if started is not None and status == "accepted":
                ack_lat.append((started - t0, time.monotonic() - started))

    watchers = await open_many(
        client, [(f"/ws/shipments/{r['tracking']}/", r["customer"]) for r in rows]
    )
    drivers = await open_many(client, [("/ws/driver/", r["dan"]) for r in rows])
    fleet = await client.open("/ws/fleet/", data["staff"])
    fleet_frames = []
    if any(isinstance(x, BaseException) for x in (*watchers, *drivers)):
        raise RuntimeError("could not open every watcher and driver socket")
    tasks = [asyncio.ensure_future(reader(w, on_watch)) for w in watchers]
    tasks += [asyncio.ensure_future(reader(d, on_driver)) for d in drivers]
    tasks.append(asyncio.ensure_future(reader(fleet, lambda f: fleet_frames.append(f["type"]))))
    await asyncio.sleep(1.0)
    positions = [[r["lat"], r["lng"]] for r in rows]
    sent = 0
    t0 = time.monotonic()
    next_report = t0 + 10
    i = 0
    while True:
        now = time.monotonic()
        if now - t0 >= duration:
            break
        due = int((now - t0) * rate) - sent
        sends = []
        for _ in range(max(0, due)):
            k = i % len(rows)
            i += 1
            positions[k][0] += 0.00002  # ~2 m north per fix
            f = fix(*positions[k])
            key = (rows[k]["tracking"], datetime.fromisoformat(f["device_time"]).isoformat())
            sent_at[key] = time.monotonic()
            ack_sent[f["client_id"]] = sent_at[key]
            sends.append(drivers[k].send(json.dumps({"type": "fix", "data": f})))
        if sends:
            await asyncio.gather(*sends, return_exceptions=True)
            sent += len(sends)
        if now >= next_report:
            say(f"    {label}: {now - t0:4.0f}s sent={sent} delivered={len(delivered)} acks={acks}")
            next_report += 10
        await asyncio.sleep(0.005)
    elapsed = time.monotonic() - t0
    await asyncio.sleep(5.0)  # stragglers
    for ws in (*watchers, *drivers, fleet):
        await ws.close()
    for t in tasks:
        t.cancel()
    return {
        "sent": sent,
        "rate": sent / elapsed,
        "acks": acks,
        "delivered": len(delivered),
        "latencies": latencies,
        "ack_lat": ack_lat,
        "duration": elapsed,
        "fleet_positions": fleet_frames.count("fleet_positions"),
    }


async def phase_fanout(client: Client, data: dict, watchers_n: int, rounds: int, bare: bool):
    """One update fanned out to `watchers_n` watchers, `rounds` times."""
    row = data["rows"][0]
    lat: list[float] = []
    pending: dict[str, float] = {}
    arrived: dict[str, int] = {}

    def on_frame(frame):
        key = frame["data"].get("at") if frame["type"] == "location" else None
        if key in pending:
            lat.append(time.monotonic() - pending[key])
            arrived[key] = arrived.get(key, 0) + 1

    path, session = ("/", None) if bare else (f"/ws/shipments/{row['tracking']}/", row["customer"])
    socks = [
        x
        for x in await open_many(client, [(path, session)] * watchers_n)
        if not isinstance(x, BaseException)
    ]
    sender = await (client.open("/", None) if bare else client.open("/ws/driver/", row["dan"]))
    watchers_n = len(socks)
    tasks = [asyncio.ensure_future(reader(s, on_frame)) for s in socks]
    tasks.append(asyncio.ensure_future(reader(sender, lambda f: None)))
    await asyncio.sleep(1.0)
    pos = [row["lat"] + 0.001, row["lng"]]
    for _ in range(rounds):
        pos[0] += 0.00003
        f = fix(*pos)
        at = datetime.fromisoformat(f["device_time"]).isoformat()
        pending[at] = time.monotonic()
        if bare:
            frame = {
                "type": "location",
                "seq": None,
                "ts": at,
                "data": {"tracking_number": row["tracking"], **f, "at": at},
            }
            await sender.send(json.dumps(frame))
        else:
            await sender.send(json.dumps({"type": "fix", "data": f}))
        await asyncio.sleep(0.6)
    await asyncio.sleep(2.0)
    complete = sum(1 for k in pending if arrived.get(k, 0) == watchers_n)
    return {
        "latencies": lat,
        "complete_rounds": complete,
        "rounds": rounds,
        "socks": socks,
        "tasks": tasks,
        "sender": sender,
    }


async def phase_connections(
    client: Client, data: dict, held: list, target: int, pid: int, budget_s: float
):
    row = data["rows"][0]
    base = rss_kb(pid)
    socks = list(held)
    t0 = time.monotonic()
    failures = 0
    tasks: list[asyncio.Task] = []
    while len(socks) < target and time.monotonic() - t0 < budget_s:
        batch = min(50, target - len(socks))
        got = await asyncio.gather(
            *(
                client.open(f"/ws/shipments/{row['tracking']}/", row["customer"])
                for _ in range(batch)
            ),
            return_exceptions=True,
        )
        ok = [g for g in got if not isinstance(g, Exception)]
        # Read (and answer the heartbeat) from the start, or the server rightly closes them.
        tasks += [asyncio.ensure_future(reader(x, lambda f: None)) for x in ok]
        errors = [g for g in got if isinstance(g, Exception)]
        if errors and failures == 0:
            say(f"    first connect failure: {errors[0]!r}")
        failures += batch - len(ok)
        socks += ok
        if failures > target // 10:
            break
    connect_s = time.monotonic() - t0
    await asyncio.sleep(5.0)
    open_now = sum(1 for s in socks if s.state == websockets.protocol.State.OPEN)
    grown = rss_kb(pid) - base
    per_conn = grown / max(1, len(socks) - len(held))
    for s in socks:
        await s.close()
    for t in tasks:
        t.cancel()
    return {
        "opened": len(socks),
        "open_after_hold": open_now,
        "failures": failures,
        "connect_s": connect_s,
        "per_conn_kb": per_conn,
        "rss_mb": rss_kb(pid) / 1024,
    }


def report_fixes(name: str, r: dict, persisted: int | None, rate: float, strict: bool) -> None:
    lat = [x * 1000 for x in r["latencies"]]
    accepted = r["acks"].get("accepted", 0)
    say(
        f"  {name}: sent {r['sent']} in {r['duration']:.1f}s ({r['rate']:.0f}/s), acks {r['acks']}, "
        f"delivered {r['delivered']}, fleet frames {r['fleet_positions']} ({r['fleet_positions'] / r['duration']:.2f}/s)"
    )
    say(
        f"  {name}: fix→watcher p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms, max {max(lat or [0]):.0f} ms"
    )
    if not strict:
        return
    check(
        "rate sustained ≥ 98 % of target",
        r["rate"] >= 0.98 * rate,
        f"{r['rate']:.0f}/s of {rate:.0f}/s",
    )
    check("100 % accepted", accepted == r["sent"], f"{accepted}/{r['sent']}")
    if persisted is not None:
        check(
            "100 % persisted",
            persisted >= accepted and accepted > 0,
            f"{persisted} rows for {accepted} accepted",
        )
    check(
        "100 % delivered to the watcher",
        r["delivered"] == accepted and accepted > 0,
        f"{r['delivered']}/{accepted}",
    )
    check("p99 fix→watcher ≤ 250 ms", pct(lat, 99) <= 250, f"{pct(lat, 99):.0f} ms")
    check(
        "fleet coalesced (≤ 1 frame/s)",
        r["fleet_positions"] <= r["duration"] + 7,
        f"{r['fleet_positions']} frames",
    )


class Server:
    """A fresh server for one phase, so a backlog left by one phase never skews the next."""

    def __init__(self, kind: str, env: dict) -> None:
        self.kind, self.env = kind, env

    async def __aenter__(self):
        self.port = free_port()
        self.proc = start_server(self.kind, self.env, self.port)
        await asyncio.sleep(1.0)
        return self

    async def __aexit__(self, *exc):
        stop_server(self.proc)


async def phase(name: str, strict: bool, coro) -> None:
    try:
        await coro
    except Exception as exc:  # a phase that breaks is a missed target, not a crashed bench
        say(f"  phase {name} failed: {exc!r}")
        if strict:
            FAILED.append(f"phase {name} ran to the end")


async def run_server_suite(kind: str, env: dict, data: dict, args, bare_p99: float | None):
    strict = kind == "daphne"
    say(f"\n== {kind}")

    async def phase_a():
        duration = args.duration if strict else args.compare_duration
        say(f"  [A] {args.rate:.0f} fixes/s for {duration:.0f}s")
        async with Server(kind, env) as server:
            before = count_fixes(env)
            r = await phase_fixes(Client(server.port), data, args.rate, duration, f"{kind} A")
            await asyncio.sleep(args.flush_wait)
            persisted = count_fixes(env) - before
        report_fixes(kind, r, persisted, args.rate, strict)

    async def phase_c_b():
        say(f"  [C] one update to {args.watchers} watchers × {args.rounds}")
        async with Server(kind, env) as server:
            client = Client(server.port)
            f = await phase_fanout(client, data, args.watchers, args.rounds, bare=False)
            lat = [x * 1000 for x in f["latencies"]]
            p99 = pct(lat, 99)
            say(
                f"  fan-out: p50 {pct(lat, 50):.0f} ms, p99 {p99:.0f} ms, complete rounds {f['complete_rounds']}/{f['rounds']}"
            )
            if bare_p99:
                say(
                    f"  fan-out p99 vs bare websockets broadcaster: {p99 / bare_p99:.1f}× the ceiling's latency "
                    f"(bare p99 {bare_p99:.0f} ms)"
                )
            if strict:
                check("fan-out p99 ≤ 250 ms", p99 <= 250, f"{p99:.0f} ms")
                check(
                    "fan-out reached every watcher",
                    f["complete_rounds"] == f["rounds"],
                    f"{f['complete_rounds']}/{f['rounds']} rounds",
                )
            await f["sender"].close()
            if not strict:
                for t in f["tasks"]:
                    t.cancel()
                for sock in f["socks"]:
                    await sock.close()
                return
            say(f"  [B] {args.connections} connections held")
            # The fan-out sockets stay open (and keep answering the heartbeat) as part of B.
            b = await phase_connections(
                client, data, f["socks"], args.connections, server.proc.pid, args.connect_budget
            )
            for t in f["tasks"]:
                t.cancel()
        say(
            f"  opened {b['opened']} in {b['connect_s']:.1f}s (failures {b['failures']}), open after 5 s hold "
            f"{b['open_after_hold']}, server RSS {b['rss_mb']:.0f} MB, {b['per_conn_kb']:.1f} KB per connection"
        )
        check(
            f"{args.connections} connections held",
            b["open_after_hold"] >= args.connections,
            f"{b['open_after_hold']}",
        )
        check("memory per connection ≤ 40 KB", b["per_conn_kb"] <= 40, f"{b['per_conn_kb']:.1f} KB")

    async def phase_d():
        over = args.rate * 3
        say(f"  [D] past capacity: {over:.0f} fixes/s for {args.overload_duration:.0f}s")
        async with Server(kind, env) as server:
            d = await phase_fixes(
                Client(server.port), data, over, args.overload_duration, f"{kind} D"
            )
        acc = d["acks"].get("accepted", 0)
        shed = d["acks"].get("rejected", 0)
        half = args.overload_duration / 2
        first = [lat * 1000 for t, lat in d["ack_lat"] if t < half]
        second = [lat * 1000 for t, lat in d["ack_lat"] if t >= half]
        p1, p2 = pct(first, 99), pct(second, 99)
        say(
            f"  offered {d['rate']:.0f}/s, accepted {acc / d['duration']:.0f}/s, shed {shed} ({shed / max(1, d['sent']):.0%}), "
            f"unanswered {d['sent'] - acc - shed}; accepted ack p99 first half {p1:.0f} ms, second half {p2:.0f} ms"
        )
        check(
            "overload: accepted latency bounded (p99 ≤ 1 s)",
            max(p1, p2) <= 1000,
            f"{max(p1, p2):.0f} ms",
        )
        check("overload: latency not growing", p2 <= 2 * p1 + 250, f"{p1:.0f} → {p2:.0f} ms")
        unanswered = d["sent"] - acc - shed - d["acks"].get("duplicate", 0)
        check("overload: every fix answered", unanswered <= 0, f"{unanswered} unanswered")

    await phase("A", strict, phase_a())
    await phase("C/B", strict, phase_c_b())
    if strict:
        await phase("D", strict, phase_d())


async def bare_ceiling(args) -> float:
    port = free_port()
    server = start_server("bare", os.environ.copy(), port)
    try:
        f = await phase_fanout(
            Client(port),
            {"rows": [{"tracking": "X", "lat": 51.0, "lng": 3.7}]},
            args.watchers,
            args.rounds,
            bare=True,
        )
        lat = [x * 1000 for x in f["latencies"]]
        say(
            f"\n== bare websockets broadcaster (ceiling): {args.watchers} watchers × {args.rounds}: "
            f"p50 {pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms"
        )
        for s in (*f["socks"], f["sender"]):
            await s.close()
        return pct(lat, 99)
    finally:
        stop_server(server)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--drivers", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--compare-duration", type=float, default=20)
    parser.add_argument("--overload-duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--connect-budget", type=float, default=180, help="s to open sockets")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--flush-wait", type=float, default=4)
    parser.add_argument("--no-uvicorn", action="store_true")
    parser.add_argument("--quick", action="store_true", help="15 s phases, 2,000 connections")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")
    )
    parser.add_argument("--db", default="dropmate_tracking_bench")
    parser.add_argument(
        "--workers", type=int, default=2, help="server processes (daphne via dropmate.serve)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database and sessions of the last run"
    )
    args = parser.parse_args()
    global WORKERS
    WORKERS = args.workers
    if args.quick:
        args.duration, args.compare_duration, args.connections = 15, 10, 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.connections * 2 + 1000:
        say(f"note: open-file limit {hard} caps the connection phase")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROPMATE_REQUIRE")}
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.db}",
        BENCH_DB=args.db,
        REDIS_URL=args.redis_url,
        CHANNEL_LAYER_PREFIX="trkbench",
        DJANGO_DEBUG="0",
        SECRET_KEY="bench-only-secret-key-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        LOG_LEVEL="WARNING",
        DROPMATE_MAP_TILE_URL="",
        TRACKING_WS_MAX_FIX_RATE="100",
        STATICFILES_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
    )
    if shutil.which("daphne", path=str(BIN)) is None:
        raise SystemExit("daphne not found next to this Python")
    started = time.monotonic()
    say(
        f"Server: {args.workers} process(es). Preparing {args.drivers} drivers with an "
        "out-for-delivery shipment each…"
    )
    saved = Path(f"/tmp/{args.db}-{args.drivers}.json")
    if args.reuse and saved.exists():
        data = json.loads(saved.read_text())
    else:
        data = prepare(env, args.drivers)
        saved.write_text(json.dumps(data))
    say(f"  ready in {time.monotonic() - started:.0f}s")
    bare_p99 = asyncio.run(bare_ceiling(args))
    asyncio.run(run_server_suite("daphne", env, data, args, bare_p99))
    if not args.no_uvicorn:
        asyncio.run(run_server_suite("uvicorn", env, data, args, bare_p99))
    say(
        f"\nTotal {time.monotonic() - started:.0f}s. "
        + ("All targets met." if not FAILED else f"Missed: {', '.join(FAILED)}")
    )
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
