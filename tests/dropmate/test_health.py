import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.realservices import start_redis_server


def test_health_answers_when_the_process_is_up(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_checks_database_cache_and_channel_layer(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "cache", "channel_layer"}


@pytest.mark.django_db
def test_ready_answers_503_naming_redis_when_it_is_stopped(client):
    proc, url = start_redis_server()
    redis_settings = {
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
            }
        },
        "CHANNEL_LAYERS": {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [{"address": url, "max_connections": 10}]},
            }
        },
    }
    try:
        with override_settings(**redis_settings):
            from channels.layers import channel_layers

            channel_layers.backends.clear()
            assert client.get("/health/ready").status_code == 200
            proc.terminate()
            proc.wait(timeout=10)
            caches["default"].close()
            channel_layers.backends.clear()
            response = client.get("/health/ready")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable"
            assert "cache (redis)" in body["down"]
            assert "channel_layer (redis)" in body["down"]
            assert body["checks"]["database"]["status"] == "ok"
    finally:
        proc.kill()
        from channels.layers import channel_layers

        channel_layers.backends.clear()
