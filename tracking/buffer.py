"""The history buffer for the socket hot path: fixes are validated, deduplicated, cached and
fanned out at once, and their rows wait here to be bulk-inserted every TRACKING_FIX_FLUSH_S
(or as soon as TRACKING_FIX_FLUSH_BATCH rows wait), by one thread per process. No insert per
fix and no Celery task per fix. A crash loses at most the rows of the last interval; the
unique (driver, client_id) constraint makes a re-sent fix harmless."""

import atexit
import logging
import threading
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


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

    def add(self, rows: list, last: tuple[int, float, float, datetime] | None) -> None:
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
        from drivers.models import Driver
        from tracking.models import LocationFix

        with self._lock:
            rows, self._rows = self._rows, []
            drivers, self._drivers = self._drivers, {}
        if not rows and not drivers:
            return 0
        try:
            LocationFix.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
            if drivers:
                Driver.objects.bulk_update(
                    [
                        Driver(pk=pk, last_lat=lat, last_lng=lng, last_fix_at=at)
                        for pk, (lat, lng, at) in drivers.items()
                    ],
                    ["last_lat", "last_lng", "last_fix_at"],
                    batch_size=500,
                )
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
