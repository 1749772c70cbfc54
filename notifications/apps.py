from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from django.core import checks

        from notifications.checks import redis_eviction_check

        checks.register(redis_eviction_check, "notifications")
