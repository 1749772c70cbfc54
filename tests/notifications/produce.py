"""Run as a subprocess (`python -m tests.notifications.produce USER_ID COUNT PREFIX`): commit
COUNT notifications, one transaction each, and print how long the commits took. Used to
commit while the broker is paused, from a process configured for that broker."""

import os
import sys
import time

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dropmate.settings")
    django.setup()
    from django.db import transaction

    from dropmate.accounts.models import User
    from notifications.services import notification_write

    user_id, count, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    user = User.objects.get(pk=user_id)
    started = time.monotonic()
    for i in range(count):
        with transaction.atomic():
            notification_write(
                event_key="bulk_test",
                recipient=user,
                audience="customer",
                scope=f"{prefix}.{i}",
                extra={"message": f"Update {i}"},
            )
    print(f"committed={count} seconds={time.monotonic() - started:.2f}", flush=True)


if __name__ == "__main__":
    main()
