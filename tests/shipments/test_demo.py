from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from dropmate.accounts.models import User
from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent


def test_seed_demo_covers_every_status_and_is_idempotent(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "admin@dropmate.local" in out.getvalue()
    assert "[17/17]" in out.getvalue()
    counts = (User.objects.count(), Shipment.objects.count(), ShipmentEvent.objects.count())
    assert set(Shipment.objects.values_list("status", flat=True)) == set(Status.values)
    for shipment in Shipment.objects.all():
        seqs = list(shipment.events.order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, shipment.last_seq + 1))
        assert shipment.price is not None and shipment.price > 0

    again = StringIO()
    call_command("seed_demo", stdout=again)
    assert "0 users and 0 shipments created" in again.getvalue()
    assert counts == (User.objects.count(), Shipment.objects.count(), ShipmentEvent.objects.count())


def test_seed_demo_refuses_a_production_configuration(db):
    with override_settings(IS_PRODUCTION=True), pytest.raises(CommandError, match="production"):
        call_command("seed_demo", stdout=StringIO())
    assert User.objects.count() == 0


def test_demo_users_can_log_in(db, client):
    call_command("seed_demo", stdout=StringIO())
    assert client.login(username="dispatch@dropmate.local", password="dropmate-demo")
    assert client.get("/admin/").status_code == 200
