"""Writes for live tracking. `fixes` holds the location pipeline (HTTP batches, the simulator),
ETA, "driver is nearby", arrival times and the purge; `live` the socket hot path."""

from tracking.services.fixes import (
    ACCEPTED,
    BUSY,
    DUPLICATE,
    FLAGGED,
    MAX_REPORTED_SPEED_MPS,
    OFF_DUTY,
    REJECTED,
    TOO_FAST,
    Fix,
    FixRejected,
    fix_parse,
    fixes_ingest,
    fixes_purge_old,
    result_refused,
    shipment_nearby_trigger,
    shipment_record_arrival,
)
from tracking.services.live import driver_context_forget, fix_apply

__all__ = [
    "ACCEPTED",
    "BUSY",
    "DUPLICATE",
    "FLAGGED",
    "MAX_REPORTED_SPEED_MPS",
    "OFF_DUTY",
    "REJECTED",
    "TOO_FAST",
    "Fix",
    "FixRejected",
    "driver_context_forget",
    "fix_apply",
    "fix_parse",
    "fixes_ingest",
    "fixes_purge_old",
    "result_refused",
    "shipment_nearby_trigger",
    "shipment_record_arrival",
]
