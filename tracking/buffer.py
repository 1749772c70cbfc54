"""The history buffer for the socket hot path: fixes are validated, deduplicated, cached and
fanned out at once, and their rows wait here to be bulk-inserted every TRACKING_FIX_FLUSH_S
(or as soon as TRACKING_FIX_FLUSH_BATCH rows wait), by one thread per process. No insert per
fix and no Celery task per fix. A crash loses at most the rows of the last interval; the
unique (driver, client_id) constraint makes a re-sent fix harmless.

Rows are plain tuples in COLUMNS order. On PostgreSQL a flush is a COPY into a temporary
table and one INSERT … ON CONFLICT DO NOTHING, and the drivers' last positions one UPDATE
… FROM (VALUES …): the flusher shares the server's interpreter, so its Python work is kept
small (model instances and bulk_update's CASE expressions cost more than the socket path).
"""

import atexit
import logging
import threading
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection, transaction

logger = logging.getLogger(__name__)

COLUMNS = (
    "driver_id",
    "shipment_id",
    "client_id",
    "device_time",
    "received_at",
    "lat",
    "lng",
    "accuracy_m",
    "speed_mps",
    "heading",
    "flagged",
)
PG_TYPES = (
    "bigint",
    "bigint",
    "uuid",
    "timestamptz",
    "timestamptz",
    "double precision",
    "double precision",
    "double precision",
    "double precision",
    "double precision",
    "boolean",
)


def row_of(fix) -> tuple:
    """A LocationFix instance as a buffer row."""
    return tuple(getattr(fix, name) for name in COLUMNS)


def _insert_rows(rows: list[tuple]) -> None:
    from tracking.models import LocationFix

    if connection.vendor != "postgresql":
        objects = [LocationFix(**dict(zip(COLUMNS, row, strict=True))) for row in rows]
        LocationFix.objects.bulk_create(objects, batch_size=1000, ignore_conflicts=True)
        return
    # Table and column names come from the models; every value is a parameter or COPY data.
    table = LocationFix._meta.db_table
    columns = ", ".join(COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        typed = ", ".join(f"{c} {t}" for c, t in zip(COLUMNS, PG_TYPES, strict=True))
        cursor.execute(f"CREATE TEMPORARY TABLE fix_incoming ({typed}) ON COMMIT DROP")
        with cursor.cursor.copy(f"COPY fix_incoming ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM fix_incoming "  # noqa: S608
            "ON CONFLICT DO NOTHING"
        )


def _update_drivers(drivers: dict[int, tuple[float, float, datetime]]) -> None:
    """Each driver's last position, unless the row already holds a newer one."""
    from drivers.models import Driver

    table = Driver._meta.db_table
    items = [(pk, lat, lng, at) for pk, (lat, lng, at) in drivers.items()]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            values = ", ".join(
                ["(%s::bigint, %s::float8, %s::float8, %s::timestamptz)"] * len(items)
            )
            cursor.execute(
                f"UPDATE {table} AS d SET last_lat = v.lat, last_lng = v.lng, last_fix_at = v.at "  # noqa: S608
                f"FROM (VALUES {values}) AS v(id, lat, lng, at) "
                "WHERE d.id = v.id AND (d.last_fix_at IS NULL OR d.last_fix_at <= v.at)",
                [value for item in items for value in item],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET last_lat = %s, last_lng = %s, last_fix_at = %s "  # noqa: S608
                "WHERE id = %s AND (last_fix_at IS NULL OR last_fix_at <= %s)",
                [(lat, lng, at, pk, at) for pk, lat, lng, at in items],
            )


class FixBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list = []
        self._drivers: dict[int, tuple[float, float, datetime]] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self.flushed = 0
        # False in tests, which flush explicitly from their own thread.
        self.background = True

    def pending(self) -> int:
        return len(self._rows)

    def has_room(self, count: int) -> bool:
        return len(self._rows) + count <= settings.TRACKING_FIX_MAX_PENDING

    def add(self, rows: list[tuple], last: tuple[int, float, float, datetime] | None) -> None:
        """Rows (COLUMNS order) to insert, and the driver's newest position among them."""
        with self._lock:
            self._rows.extend(rows)
            if last is not None:
                driver_id, lat, lng, at = last
                self._drivers[driver_id] = (lat, lng, at)
            size = len(self._rows)
        self._ensure_thread()
        if size >= settings.TRACKING_FIX_FLUSH_BATCH:
            self._wake.set()

    def flush(self) -> int:
        """Insert what waits. On a database error the rows go back for the next try."""
        with self._lock:
            rows, self._rows = self._rows, []
            drivers, self._drivers = self._drivers, {}
        if not rows and not drivers:
            return 0
        try:
            if rows:
                _insert_rows(rows)
            if drivers:
                _update_drivers(drivers)
        except Exception:
            self._failures += 1
            if self._failures >= 3:
                # Poisoned (a driver deleted meanwhile?): drop it rather than block the rest.
                logger.exception("dropping %d location fixes after 3 failed flushes", len(rows))
                self._failures = 0
                return 0
            logger.exception("flushing %d location fixes failed; retrying later", len(rows))
            with self._lock:
                self._rows[:0] = rows[: settings.TRACKING_FIX_MAX_PENDING]
                for pk, value in drivers.items():
                    self._drivers.setdefault(pk, value)
            return 0
        self._failures = 0
        self.flushed += len(rows)
        return len(rows)

    def discard(self) -> None:
        """Forget whatever waits (tests)."""
        with self._lock:
            self._rows, self._drivers = [], {}

    def _ensure_thread(self) -> None:
        if not self.background:
            return
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="fix-buffer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(settings.TRACKING_FIX_FLUSH_S)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # never let the flusher die
                logger.exception("fix buffer flush crashed")
            finally:
                close_old_connections()


buffer = FixBuffer()


@atexit.register
def _flush_on_exit() -> None:
    try:
        buffer.flush()
    except Exception:
        logger.exception("final flush of location fixes failed")
