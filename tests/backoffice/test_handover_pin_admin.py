"""Staff send the customer a new handover PIN from the shipments admin: it unlocks a job
locked after wrong PINs, the old PIN stops working, and staff never see the new one."""

from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from dropmate.lib.exceptions import Invalid
from notifications.models import Notification
from shipments import handover
from shipments.lifecycle import Status
from shipments.models import Shipment

CHANGELIST = reverse("admin:shipments_shipment_changelist")


def new_pin(client, shipment):
    return client.post(
        CHANGELIST,
        {"action": "new_handover_pin", "_selected_action": [shipment.pk]},
        follow=True,
    )


def pins_sent(shipment) -> list[str]:
    # The rows are not sent in these tests (no commit), so they still hold the real PIN.
    rows = Notification.objects.filter(event_key="handover_pin", shipment=shipment)
    return [row.payload["secrets"]["pin"] for row in rows.order_by("pk")]


@pytest.fixture
def locked_job(shipment_in):
    shipment = shipment_in(Status.OUT_FOR_DELIVERY, declared_value=Decimal("900.00"))
    old = handover.handover_pin_issue(shipment=shipment)
    Shipment.objects.filter(pk=shipment.pk).update(pin_failures=3, pin_locked=True)
    return Shipment.objects.get(pk=shipment.pk), old


def test_a_new_pin_unlocks_the_job_and_replaces_the_old_one(locked_job, as_user, dora):
    shipment, old = locked_job
    response = new_pin(as_user(dora), shipment)
    assert response.status_code == 200
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == [f"Sent a new PIN: {shipment.tracking_number}."]
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert (fresh.pin_locked, fresh.pin_failures) == (False, 0)
    first, second = pins_sent(shipment)
    assert first == old and second != old
    with pytest.raises(Invalid):
        handover.handover_pin_verify(shipment=fresh, pin=old)
    handover.handover_pin_verify(shipment=fresh, pin=second)  # no exception: it works
    # Staff never see it: not on the page they land on, not in the admin log.
    assert second not in response.content.decode()
    [entry] = LogEntry.objects.filter(object_id=str(shipment.pk))
    assert second not in entry.get_change_message()
    assert entry.user_id == dora.pk


def test_no_new_pin_once_the_shipment_is_over_or_when_it_needs_none(shipment_in, as_user, dora):
    cancelled = shipment_in(Status.CANCELLED, declared_value=Decimal("900.00"))
    plain = shipment_in(Status.OUT_FOR_DELIVERY, declared_value=Decimal("10.00"))
    client = as_user(dora)
    for shipment, why in (
        (cancelled, "not waiting to be handed over"),
        (plain, "handed over without a PIN"),
    ):
        response = new_pin(client, shipment)
        [message] = [str(m) for m in get_messages(response.wsgi_request)]
        assert message.startswith(f"{shipment.tracking_number}: not sent a new PIN.")
        assert why in message
        assert pins_sent(shipment) == []
        assert not Shipment.objects.get(pk=shipment.pk).handover_pin_hash


def test_only_dispatch_staff_may_send_a_new_pin(locked_job, as_user, alice, dan):
    shipment, _ = locked_job
    for who in (alice, dan.user):
        response = as_user(who).post(
            CHANGELIST, {"action": "new_handover_pin", "_selected_action": [shipment.pk]}
        )
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Shipment.objects.get(pk=shipment.pk).pin_locked is True
    assert len(pins_sent(shipment)) == 1
