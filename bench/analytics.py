"""Analytics page on 100,000 shipments (PostgreSQL): seeds them quickly with COPY, then times
the page render through Django's full request stack. Target: median under 300 ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dropmate .venv/bin/python bench/analytics.py

Works in its own database (the DATABASE_URL name + "_bench", created if missing), so it never
touches real data. Seeding is skipped when the bench database already holds the shipments;
pass --reseed to start over. Exits 1 when the target is missed.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_SHIPMENTS = 100_000
N_CUSTOMERS = 500
N_DRIVERS = 40
DAYS = 30
TARGET_MS = 300.0
RUNS = 7

# (status, share, reached pickup, has driver)
MIX = [
    ("delivered", 0.62, True, True),
    ("failed_attempt", 0.03, True, True),
    ("returned", 0.02, True, True),
    ("out_for_delivery", 0.03, True, True),
    ("in_transit", 0.02, True, True),
    ("picked_up", 0.02, True, True),
    ("assigned", 0.05, False, True),
    ("accepted", 0.05, False, False),
    ("pending_review", 0.06, False, False),
    ("rejected", 0.03, False, False),
    ("cancelled", 0.05, False, False),
    ("draft", 0.02, False, False),
]
REASONS = ["not_home", "wrong_address", "refused", "no_access", "other"]


def bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/analytics.py needs DATABASE_URL=postgres://... (PostgreSQL)")
    parts = urlparse(url)
    name = parts.path.lstrip("/") or "dropmate"
    if not name.endswith("_bench"):
        name += "_bench"
    return urlunparse(parts._replace(path="/" + name))


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def copy_rows(cursor, table: str, columns: list[str], rows) -> None:
    """COPY rows into `table` (psycopg 3's COPY protocol: no per-row INSERT)."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def seed() -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from shipments.models import Shipment
    from shipments.tracking_numbers import generate

    rng = random.Random(7)
    now = timezone.now().replace(microsecond=0)
    started = time.perf_counter()
    tables = [
        "tracking_locationfix",
        "shipments_shipmentevent",
        "shipments_proofofdelivery",
        "notifications_notification",
        "drivers_drivermessage",
        "shipments_shipment",
        "drivers_driver",
        "drivers_vehicle",
        "accounts_user",
    ]
    with transaction.atomic(), connection.cursor() as c:
        c.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        raw = c.cursor
        users = []
        for i in range(N_CUSTOMERS):
            users.append((f"customer{i}@bench.local", "customer", f"+3247{i:07d}"))
        for i in range(N_DRIVERS):
            users.append((f"driver{i}@bench.local", "driver", f"+3248{i:07d}"))
        users.append(("dispatch@bench.local", "dispatcher", "+32490000000"))
        copy_rows(
            raw,
            "accounts_user",
            [
                "password",
                "is_superuser",
                "first_name",
                "last_name",
                "is_staff",
                "is_active",
                "date_joined",
                "email",
                "role",
                "phone",
                "notify_email",
                "notify_sms",
                "language",
            ],
            (
                (
                    "!",
                    False,
                    email.split("@")[0].title(),
                    "Bench",
                    role == "dispatcher",
                    True,
                    now,
                    email,
                    role,
                    phone,
                    True,
                    False,
                    "",
                )
                for email, role, phone in users
            ),
        )
        copy_rows(
            raw,
            "drivers_vehicle",
            ["name", "kind", "plate", "capacity_kg", "capacity_parcels", "active"],
            ((f"Van {i}", "van", f"B-{i:04d}", Decimal("800"), 40, True) for i in range(N_DRIVERS)),
        )
        copy_rows(
            raw,
            "drivers_driver",
            ["user_id", "vehicle_id", "on_duty", "last_lat", "last_lng", "last_fix_at"],
            (
                (
                    N_CUSTOMERS + i + 1,
                    i + 1,
                    True,
                    51.05 + rng.uniform(-0.03, 0.03),
                    3.72 + rng.uniform(-0.05, 0.05),
                    now,
                )
                for i in range(N_DRIVERS)
            ),
        )

        statuses = rng.choices([m[0] for m in MIX], weights=[m[1] for m in MIX], k=N_SHIPMENTS)
        flags = {m[0]: (m[2], m[3]) for m in MIX}
        shipment_rows, event_rows = [], []
        for pk, status in enumerate(statuses, start=1):
            picked, has_driver = flags[status]
            created = now - timedelta(minutes=rng.randint(60, DAYS * 24 * 60 - 60))
            window_start = created + timedelta(hours=2)
            window_end = window_start + timedelta(hours=2)
            driver = rng.randint(1, N_DRIVERS) if has_driver else None
            pickup_at = created + timedelta(minutes=rng.randint(30, 150))
            done_at = pickup_at + timedelta(minutes=rng.randint(15, 180))
            changed = done_at if picked else created + timedelta(minutes=20)
            price = Decimal(rng.randint(600, 4000)) / 100
            payment = {
                "delivered": "on_delivery" if pk % 3 else "captured",
                "cancelled": "refunded" if pk % 2 else "canceled",
                "rejected": "canceled",
                "pending_review": "authorized",
                "draft": "none",
            }.get(status, "captured")
            predicted = actual = None
            if status == "delivered":
                actual = done_at
                predicted = done_at + timedelta(minutes=rng.randint(-25, 25))
            seq = 1
            event_rows.append((pk, 1, "status", "", "draft", 1, "customer", "", created))
            if picked:
                seq += 1
                event_rows.append(
                    (pk, seq, "status", "assigned", "picked_up", seq, "driver", "", pickup_at)
                )
            if status in ("delivered", "failed_attempt", "returned"):
                seq += 1
                note = rng.choice(REASONS) if status == "failed_attempt" else ""
                final = "failed_attempt" if status == "returned" else status
                event_rows.append(
                    (pk, seq, "status", "out_for_delivery", final, seq, "driver", note, done_at)
                )
            shipment_rows.append(
                (
                    generate(),
                    rng.randint(1, N_CUSTOMERS),
                    f"BENCH-{pk}",
                    "Veldstraat 12",
                    "Ghent",
                    "9000",
                    51.052,
                    3.7215,
                    "Kouter 7",
                    "Ghent",
                    "9000",
                    51.05,
                    3.7235,
                    "small",
                    Decimal("2.50"),
                    "standard",
                    window_start - timedelta(hours=1),
                    window_start,
                    window_start,
                    window_end,
                    price,
                    "EUR",
                    payment,
                    "on_delivery",
                    status,
                    N_CUSTOMERS + driver if driver else None,
                    predicted,
                    actual,
                    seq,
                    seq,
                    created,
                    changed,
                    changed,
                )
            )
        names = [
            "tracking_number",
            "customer_id",
            "reference",
            "pickup_address",
            "pickup_city",
            "pickup_postcode",
            "pickup_lat",
            "pickup_lng",
            "dropoff_address",
            "dropoff_city",
            "dropoff_postcode",
            "dropoff_lat",
            "dropoff_lng",
            "size_class",
            "weight_kg",
            "service_level",
            "pickup_window_start",
            "pickup_window_end",
            "delivery_window_start",
            "delivery_window_end",
            "price",
            "currency",
            "payment_state",
            "payment_method",
            "status",
            "driver_id",
            "predicted_arrival",
            "actual_arrival",
            "version",
            "last_seq",
            "created_at",
            "updated_at",
            "status_changed_at",
        ]
        # Every other column takes the model field's default (the database has none).
        fields = [f for f in Shipment._meta.concrete_fields if not f.primary_key]
        defaults = {f.attname: f.get_db_prep_value(f.get_default(), connection) for f in fields}
        for name in names:
            defaults.pop(name)
        columns = [*names, *defaults]
        rest = tuple(defaults.values())
        copy_rows(
            raw,
            "shipments_shipment",
            columns,
            (
                (*row[:25], row[25] - N_CUSTOMERS if row[25] else None, *row[26:], *rest)
                for row in shipment_rows
            ),
        )
        # Driver events are made by the driver's user.
        driver_of = {pk: row[25] for pk, row in enumerate(shipment_rows, start=1)}
        copy_rows(
            raw,
            "shipments_shipmentevent",
            [
                "shipment_id",
                "seq",
                "kind",
                "from_status",
                "status",
                "version",
                "actor_role",
                "note",
                "data",
                "created_at",
                "actor_id",
            ],
            (
                (*e[:8], "{}", e[8], driver_of[e[0]] + 1 if e[6] == "driver" else None)
                for e in event_rows
            ),
        )
        c.execute("ANALYZE")
    print(
        f"seeded {N_SHIPMENTS:,} shipments and {len(event_rows):,} events "
        f"in {time.perf_counter() - started:.1f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()

    url = bench_database_url()
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dropmate.settings")

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from dropmate.accounts.models import User
    from portals.forms.staff import AnalyticsRangeForm
    from shipments import analytics
    from shipments.models import Shipment

    call_command("migrate", verbosity=0)
    if args.reseed or Shipment.objects.count() != N_SHIPMENTS:
        seed()
    else:
        print(f"reusing {N_SHIPMENTS:,} seeded shipments")

    client = Client()
    client.force_login(User.objects.get(email="dispatch@bench.local"))
    url_path = reverse("staff-analytics")
    first = client.get(url_path)
    assert first.status_code == 200, first.status_code
    period = AnalyticsRangeForm.default_period()
    total = analytics.shipments_per_day(period=period).summary["total"]
    print(f"page covers {total:,} shipments ({period.start} to {period.end})")

    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url_path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    for key, section in analytics.SECTIONS.items():
        started = time.perf_counter()
        section(period=period)
        print(f"  {key:<20} {(time.perf_counter() - started) * 1000:7.1f} ms (alone)")
    # How busy is this machine? A plain count over the shipments takes a few ms when idle.
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        for _ in range(3):
            cursor.execute("SELECT count(*) FROM shipments_shipment")
            cursor.fetchone()
        calibration = (time.perf_counter() - started) * 1000 / 3
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: load average {load:.1f} on {os.cpu_count()} CPUs; "
        f"SELECT count(*) over the shipments takes {calibration:.0f} ms"
    )
    median = statistics.median(timings)
    print(
        f"analytics page render: median {median:.0f} ms, min {min(timings):.0f} ms, "
        f"max {max(timings):.0f} ms over {RUNS} runs (target < {TARGET_MS:.0f} ms)"
    )
    if median >= TARGET_MS:
        print("FAIL: target missed")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
