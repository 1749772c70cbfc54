"""Short messages from dispatch to a driver, shown in the driver app."""

from django.db import transaction

from drivers.models import Driver, DriverMessage
from dropmate.accounts.models import User
from dropmate.lib.exceptions import Invalid, NotAllowed

MAX_LENGTH = DriverMessage._meta.get_field("body").max_length


def _push(message_id: int) -> None:
    from tracking import broadcast

    broadcast.driver_message_push(message_id=message_id)


@transaction.atomic
def driver_message_send(*, driver: Driver, sender: User, body: str) -> DriverMessage:
    """Store a message for `driver`; pushes it to the driver's devices after commit."""
    if not (sender.is_superuser or sender.is_dispatch_staff):
        raise NotAllowed("Only dispatchers and admins message drivers.")
    body = (body or "").strip()
    if not body:
        raise Invalid("Write a message.", details={"field": "body"})
    if len(body) > MAX_LENGTH:
        raise Invalid(
            f"Keep it under {MAX_LENGTH} characters (this one has {len(body)}).",
            details={"field": "body"},
        )
    message = DriverMessage.objects.create(driver=driver, sender=sender, body=body)
    transaction.on_commit(lambda: _push(message.pk))
    return message
