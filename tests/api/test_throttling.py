"""Throttling per token, per signed-in user and per anonymous client, counted in the shared
cache: 429 with Retry-After, and one budget across processes when Redis is configured."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from dropmate.api.throttling import parse_rate
from tests.api.conftest import client_for, error_code
from tests.realservices import redis_url

ROOT = Path(__file__).resolve().parents[2]
TRACK = "/api/v1/shipments/track/DM-00000-00000-00000"
# Malformed: answered 404 without a query, so a process without the test database can ask.
TRACK_MALFORMED = "/api/v1/shipments/track/not-a-number"


def caches_with_fresh_namespace(location: str | None = None) -> dict:
    """The configured cache (or Redis at `location`) under a key prefix no other test uses."""
    if location:
        default = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}
    else:
        default = dict(settings.CACHES["default"])
        if default["BACKEND"].endswith("LocMemCache"):
            default["LOCATION"] = uuid.uuid4().hex
    default["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    return {"default": default}


@pytest.fixture
def rates():
    def apply(**scopes):
        rates = {"anon": "1000/min", "user": "1000/min", "track": "1000/min", **scopes}
        return override_settings(API_THROTTLE_RATES=rates, CACHES=caches_with_fresh_namespace())

    return apply


def test_token_over_its_budget_gets_429_with_retry_after(rates, alice):
    client = client_for(alice)
    with rates(user="3/min"):
        codes = [client.get("/api/v1/shipments").status_code for _ in range(3)]
        refused = client.get("/api/v1/shipments")
    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    assert error_code(refused) == "throttled"
    retry_after = int(refused["Retry-After"])
    assert 1 <= retry_after <= 60
    assert refused.json()["error"]["details"]["retry_after"] == retry_after


def test_each_token_has_its_own_budget(rates, alice):
    first, second = client_for(alice), client_for(alice)
    with rates(user="2/min"):
        assert [first.get("/api/v1/shipments").status_code for _ in range(3)] == [200, 200, 429]
        assert second.get("/api/v1/shipments").status_code == 200


def test_session_users_are_counted_per_user(rates, alice, bob):
    a, b = APIClient(), APIClient()
    a.force_login(alice)
    b.force_login(bob)
    with rates(user="1/min"):
        assert a.get("/api/v1/shipments").status_code == 200
        assert a.get("/api/v1/shipments").status_code == 429
        assert b.get("/api/v1/shipments").status_code == 200


def test_anonymous_clients_are_counted_per_address(rates, db):
    one, other = APIClient(REMOTE_ADDR="192.0.2.1"), APIClient(REMOTE_ADDR="192.0.2.2")
    with rates(anon="2/min"):
        assert [one.get("/api/v1/shipments").status_code for _ in range(3)] == [401, 401, 429]
        assert other.get("/api/v1/shipments").status_code == 401


def test_public_tracking_has_its_own_tighter_budget(rates, db):
    client = APIClient(REMOTE_ADDR="192.0.2.9")
    with rates(track="2/min"):
        codes = [client.get(TRACK).status_code for _ in range(3)]
        # Other endpoints still answer: the tracking budget is separate.
        other = client.get("/api/v1/shipments").status_code
    assert codes == [404, 404, 429]
    assert other == 401


def test_parse_rate():
    assert parse_rate("60/min") == (60, 60)
    assert parse_rate("5/10s") == (5, 10)
    assert parse_rate("1000/day") == (1000, 86400)
    with pytest.raises(ValueError):
        parse_rate("lots")


SUBPROCESS = """
import json, sys, django
django.setup()
from django.test import Client
from django.test.utils import override_settings
args = json.loads(sys.argv[1])
with override_settings(CACHES=args["caches"], API_THROTTLE_RATES=args["rates"]):
    client = Client(REMOTE_ADDR=args["ip"])
    print(json.dumps([client.get(args["url"]).status_code for _ in range(args["n"])]))
"""


def test_budget_is_shared_across_processes_through_redis(db, tmp_path):
    """Another process spends part of an anonymous client's budget; this one sees the rest."""
    caches = caches_with_fresh_namespace(redis_url())
    rates = {"anon": "1000/hour", "user": "1000/hour", "track": "5/hour"}
    ip = "198.51.100.7"
    args = {"caches": caches, "rates": rates, "ip": ip, "url": TRACK_MALFORMED, "n": 3}
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="dropmate.settings",
        DJANGO_DEBUG="1",
        SQLITE_PATH=str(tmp_path / "unused.sqlite3"),
    )
    done = subprocess.run(
        [sys.executable, "-c", SUBPROCESS, json.dumps(args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [404, 404, 404]
    with override_settings(CACHES=caches, API_THROTTLE_RATES=rates):
        client = APIClient(REMOTE_ADDR=ip)
        codes = [client.get(TRACK).status_code for _ in range(3)]
        refused = client.get(TRACK)
    assert codes == [404, 404, 429]
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


def test_bad_tokens_count_against_the_client_address(rates, db):
    client = APIClient(REMOTE_ADDR="192.0.2.3")
    client.credentials(HTTP_AUTHORIZATION="Bearer dmt_guess")
    with rates(anon="2/min"):
        assert [client.get("/api/v1/shipments").status_code for _ in range(3)] == [401, 401, 429]


def test_role_refusals_count_too(rates, alice):
    client = client_for(alice)
    with rates(user="2/min"):
        assert [client.get("/api/v1/drivers").status_code for _ in range(3)] == [403, 403, 429]
