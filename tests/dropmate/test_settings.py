"""Settings are read in a fresh process for each environment, as a deployment would."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
    "pool": bool(settings.DATABASES["default"].get("OPTIONS", {}).get("pool")),
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_hosts": settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts"),
    "cache": settings.CACHES["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "storage": settings.STORAGES["default"]["BACKEND"],
    "storage_options": settings.STORAGES["default"].get("OPTIONS", {}),
    "debug": settings.DEBUG,
}))
"""
CLEAN = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "AWS_", "STRIPE_", "SECRET_KEY"))
    and k not in ("ALLOWED_HOSTS",)
}


def run(env: dict[str, str], code: str = PROBE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**CLEAN, "DJANGO_SETTINGS_MODULE": "dropmate.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def probe(env: dict[str, str]) -> dict:
    result = run(env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_default_needs_nothing_installed():
    got = probe({"DJANGO_DEBUG": "1"})
    assert got["db"] == "django.db.backends.sqlite3"
    assert got["layer"] == "channels.layers.InMemoryChannelLayer"
    assert got["cache"].endswith("LocMemCache")
    assert got["eager"] is True
    assert got["storage"] == "django.core.files.storage.FileSystemStorage"


def test_configured_services_switch_to_postgres_redis_and_s3():
    got = probe(
        {
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/dropmate",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "AWS_STORAGE_BUCKET_NAME": "pods",
            "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:5999",
        }
    )
    assert got["db"] == "django.db.backends.postgresql"
    assert got["conn_max_age"] == 0 and got["pool"] is True
    assert got["layer"] == "dropmate.layers.PipelinedPubSubChannelLayer"
    assert got["layer_hosts"][0]["max_connections"] > 100
    assert got["cache"].endswith("RedisCache")
    assert got["eager"] is False
    assert got["broker"] == "redis://127.0.0.1:6379/3"
    assert got["storage"] == "storages.backends.s3.S3Storage"
    assert got["storage_options"]["bucket_name"] == "pods"
    assert got["storage_options"]["endpoint_url"] == "http://127.0.0.1:5999"


def test_production_mode_refuses_to_start_without_a_secret_key():
    result = run({"ALLOWED_HOSTS": "dropmate.example"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "ALLOWED_HOSTS" not in result.stderr.split("ImproperlyConfigured")[-1]


def test_production_mode_names_every_missing_variable():
    result = run({})
    assert result.returncode != 0
    assert "SECRET_KEY, ALLOWED_HOSTS" in result.stderr


def test_production_mode_starts_when_configured():
    got = probe({"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "dropmate.example"})
    assert got["debug"] is False
