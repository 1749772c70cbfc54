"""Idempotency-Keys are forgotten after IDEMPOTENCY_KEY_RETENTION_DAYS, in small batches.

Intended: a key makes a client's retries of one booking safe; it does not reserve the key for
ever. Once forgotten, a booking sent again under the same key is a new booking (Stripe keeps
keys 24 hours; we keep them 7 days by default)."""

from datetime import timedelta

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shipments import services
from shipments.models import IdempotencyKey, Shipment
from shipments.tasks import idempotency_keys_purge_old
from tests.api.conftest import booking_body, client_for

URL = "/api/v1/shipments"


@pytest.fixture
def eager():
    """Run Celery tasks inline whatever the broker (REDIS_URL turns eager off)."""
    conf = current_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


def keys(user, count: int, *, age: timedelta, prefix: str) -> list[int]:
    """`count` keys of `user`, sent `age` ago."""
    rows = IdempotencyKey.objects.bulk_create(
        IdempotencyKey(user=user, key=f"{prefix}-{i}", request_hash="0" * 64) for i in range(count)
    )
    pks = [row.pk for row in rows]
    IdempotencyKey.objects.filter(pk__in=pks).update(created_at=timezone.now() - age)
    return pks


def age_key(key: str, age: timedelta) -> None:
    assert IdempotencyKey.objects.filter(key=key).update(created_at=timezone.now() - age) == 1


def test_keys_older_than_the_retention_are_forgotten_and_newer_ones_kept(alice, bob):
    old = keys(alice, 2, age=timedelta(days=7, minutes=1), prefix="old")
    old += keys(bob, 1, age=timedelta(days=30), prefix="old")
    kept = keys(alice, 2, age=timedelta(days=6, hours=23), prefix="kept")

    assert services.idempotency_keys_purge_old() == 3

    assert sorted(IdempotencyKey.objects.values_list("pk", flat=True)) == sorted(kept)
    assert not IdempotencyKey.objects.filter(pk__in=old).exists()


def test_the_retention_follows_the_setting(alice, settings):
    settings.IDEMPOTENCY_KEY_RETENTION_DAYS = 1
    keys(alice, 1, age=timedelta(hours=25), prefix="a")
    keys(alice, 1, age=timedelta(hours=23), prefix="b")

    assert services.idempotency_keys_purge_old() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["b-0"]


def test_a_backlog_is_purged_completely_in_bounded_batches(alice, bob, settings):
    settings.RETENTION_DELETE_BATCH_SIZE = 4
    old = keys(alice, 17, age=timedelta(days=60), prefix="a") + keys(
        bob, 8, age=timedelta(days=8), prefix="b"
    )
    recent = keys(alice, 3, age=timedelta(hours=1), prefix="new")

    with CaptureQueriesContext(connection) as queries:
        assert services.idempotency_keys_purge_old() == len(old) == 25

    deletes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DELETE")]
    assert len(deletes) == 7  # ceil(25 / 4): one short statement per chunk
    assert sorted(IdempotencyKey.objects.values_list("pk", flat=True)) == sorted(recent)
    assert services.idempotency_keys_purge_old() == 0


def test_a_batch_size_dividing_the_backlog_exactly_still_removes_it_all(alice):
    keys(alice, 6, age=timedelta(days=9), prefix="k")

    assert services.idempotency_keys_purge_old(batch_size=3) == 6
    assert not IdempotencyKey.objects.exists()


def test_the_purge_task_runs_through_celery_and_returns_the_count(alice, eager):
    keys(alice, 4, age=timedelta(days=8), prefix="old")
    keys(alice, 1, age=timedelta(days=1), prefix="new")

    assert idempotency_keys_purge_old.delay().get(timeout=10) == 4
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new-0"]


def test_the_purge_is_scheduled_with_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["shipments-purge-idempotency-keys"]
    assert entry["task"] == "shipments.tasks.idempotency_keys_purge_old"
    assert entry["task"] in current_app.tasks


def test_after_its_key_is_forgotten_the_same_booking_is_a_new_booking(alice):
    api = client_for(alice)
    body = booking_body()
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == 201, first.json()

    # Inside the retention a retry replays the first booking.
    age_key("order-1", timedelta(days=6, hours=23))
    assert services.idempotency_keys_purge_old() == 0
    retry = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["tracking_number"] == first.json()["tracking_number"]

    age_key("order-1", timedelta(days=7, minutes=1))
    assert services.idempotency_keys_purge_old() == 1
    late = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert late.status_code == 201
    assert "Idempotent-Replayed" not in late
    assert late.json()["tracking_number"] != first.json()["tracking_number"]
    assert Shipment.objects.filter(customer=alice).count() == 2
    # The first shipment is kept; the key now points at the new one.
    remembered = IdempotencyKey.objects.get(key="order-1").shipment
    assert remembered.tracking_number == late.json()["tracking_number"]
