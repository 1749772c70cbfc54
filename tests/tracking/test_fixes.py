"""The location pipeline: validation, applied once per client id, jumps flagged, the latest
position cached, history stored, the off-duty refusal."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.tracking.conftest import fix_at
from tracking import selectors
from tracking.models import LocationFix
from tracking.services import fixes_ingest

GHENT = (51.0540, 3.7250)

# Real commits: the latest position and the pushes happen on commit.
pytestmark = pytest.mark.django_db(transaction=True)


def test_valid_fix_is_accepted_stored_and_becomes_the_position(dan):
    fix = fix_at(*GHENT)
    [result] = fixes_ingest(driver=dan, fixes=[fix])
    assert result == {"client_id": fix["client_id"], "status": "accepted", "error": None}
    stored = LocationFix.objects.get(driver=dan)
    assert str(stored.client_id) == fix["client_id"] and not stored.flagged
    position = selectors.driver_position(driver=dan)
    assert (position["lat"], position["lng"]) == GHENT
    dan.refresh_from_db()
    assert (dan.last_lat, dan.last_lng) == GHENT


def test_same_client_id_is_applied_once_even_within_one_batch(dan):
    fix = fix_at(*GHENT)
    first = fixes_ingest(driver=dan, fixes=[fix, dict(fix)])
    again = fixes_ingest(driver=dan, fixes=[fix])
    assert [r["status"] for r in first] == ["accepted", "duplicate"]
    assert again[0]["status"] == "duplicate"
    assert LocationFix.objects.filter(driver=dan).count() == 1


def test_client_id_of_another_driver_is_not_a_duplicate(dan, erin):
    fix = fix_at(*GHENT)
    fixes_ingest(driver=dan, fixes=[fix])
    assert fixes_ingest(driver=erin, fixes=[fix])[0]["status"] == "accepted"


@pytest.mark.django_db  # nothing is committed for a rejected fix: no need for real commits
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lat": 91}, "lat must be between"),
        ({"lng": -181}, "lng must be between"),
        ({"lat": "north"}, "lat must be a number"),
        ({"lat": True}, "lat must be a number"),
        ({"accuracy_m": None}, "accuracy_m is required"),
        ({"accuracy_m": -1}, "accuracy_m must be between"),
        ({"client_id": "not-a-uuid"}, "client_id must be a UUID"),
        ({"device_time": "yesterday"}, "ISO 8601"),
        ({"device_time": "2026-01-01T10:00:00"}, "time zone"),
        ({"speed_mps": 250}, "speed_mps must be between"),
        ({"heading": 360}, "heading must be between"),
        ({"shipment": "DM-NOPE-0000"}, "No such shipment"),
    ],
)
def test_invalid_fix_is_rejected_with_a_reason_and_not_stored(dan, change, message):
    fix = {**fix_at(*GHENT), **change}
    [result] = fixes_ingest(driver=dan, fixes=[fix])
    assert result["status"] == "rejected"
    assert message in result["error"]
    assert not LocationFix.objects.exists()
    assert selectors.driver_position(driver=dan) is None


def test_far_future_and_too_old_fixes_are_rejected(dan, settings):
    future = fix_at(*GHENT, seconds_ago=-(settings.TRACKING_FIX_MAX_FUTURE_S + 30))
    old = fix_at(*GHENT, seconds_ago=settings.TRACKING_FIX_MAX_AGE_S + 30)
    slightly_ahead = fix_at(*GHENT, seconds_ago=-5)  # clock skew is tolerated
    results = fixes_ingest(driver=dan, fixes=[future, old, slightly_ahead])
    assert [r["status"] for r in results] == ["rejected", "rejected", "accepted"]
    assert "future" in results[0]["error"] and "too old" in results[1]["error"]


def test_a_teleport_is_stored_flagged_and_not_shown_as_position(dan):
    fixes_ingest(driver=dan, fixes=[fix_at(*GHENT, seconds_ago=10)])
    paris = fix_at(48.8566, 2.3522)  # 260 km in 10 s
    [result] = fixes_ingest(driver=dan, fixes=[paris])
    assert result["status"] == "flagged"
    assert LocationFix.objects.get(client_id=paris["client_id"]).flagged
    position = selectors.driver_position(driver=dan)
    assert (position["lat"], position["lng"]) == GHENT
    # The next plausible fix near the real position is accepted as usual.
    assert fixes_ingest(driver=dan, fixes=[fix_at(51.0545, 3.7255)])[0]["status"] == "accepted"


def test_an_older_fix_replayed_late_is_history_not_the_position(dan):
    fixes_ingest(driver=dan, fixes=[fix_at(*GHENT, seconds_ago=5)])
    late = fix_at(51.0541, 3.7251, seconds_ago=60)
    assert fixes_ingest(driver=dan, fixes=[late])[0]["status"] == "accepted"
    position = selectors.driver_position(driver=dan)
    assert (position["lat"], position["lng"]) == GHENT
    assert LocationFix.objects.filter(driver=dan).count() == 2


def test_offline_batch_out_of_order_ends_on_the_newest_fix(dan):
    fixes = [fix_at(51.0500 + i * 0.0005, 3.7200, seconds_ago=60 - i * 10) for i in range(5)]
    results = fixes_ingest(driver=dan, fixes=list(reversed(fixes)))
    assert {r["status"] for r in results} == {"accepted"}
    assert selectors.driver_position(driver=dan)["lat"] == pytest.approx(51.0520)


def test_off_duty_driver_is_refused_with_a_clear_error(dan):
    dan.on_duty = False
    dan.save(update_fields=["on_duty"])
    [result] = fixes_ingest(driver=dan, fixes=[fix_at(*GHENT)])
    assert result["status"] == "rejected"
    assert "off duty" in result["error"]
    assert not LocationFix.objects.exists()


def test_buffered_fixes_reach_the_database_on_flush(dan):
    from tracking.buffer import buffer

    fix = fix_at(*GHENT)
    with_commit = fixes_ingest(driver=dan, fixes=[fix], buffered=True)
    assert with_commit[0]["status"] == "accepted"
    buffer.flush()
    assert LocationFix.objects.filter(client_id=fix["client_id"]).exists()
    dan.refresh_from_db()
    assert dan.last_lat == GHENT[0]


def test_non_object_fix_is_rejected(dan):
    results = fixes_ingest(driver=dan, fixes=["nope", {"client_id": str(uuid.uuid4())}])
    assert [r["status"] for r in results] == ["rejected", "rejected"]
    assert results[0]["client_id"] is None


def test_device_time_is_kept_as_sent(dan):
    when = timezone.now() - timedelta(seconds=30)
    fix = {**fix_at(*GHENT), "device_time": when.isoformat()}
    fixes_ingest(driver=dan, fixes=[fix])
    assert LocationFix.objects.get().device_time == when
