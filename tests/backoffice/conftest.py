"""Back-office personas on top of the shared ones: dora dispatches (the Dispatchers group
through her role), adele administers without being a superuser, ada is the superuser."""

import pytest
from django.test import Client

from dropmate.accounts.models import Role
from shipments.lifecycle import Status
from tests.factories import UserFactory, make_shipment


@pytest.fixture
def adele(db):
    return UserFactory(email="adele@dropmate.local", role=Role.ADMIN, is_staff=True)


@pytest.fixture
def as_user(password):
    """A fresh logged-in test client per call: two staff members, two browsers."""

    def login(user):
        client = Client()
        assert client.login(email=user.email, password=password)
        return client

    return login


@pytest.fixture
def paid(alice, dan, dora):
    """Factory: a paid order of alice's waiting for review (pay on delivery)."""

    def make(**fields):
        return make_shipment(
            customer=alice, status=Status.PENDING_REVIEW, driver=dan, staff=dora, **fields
        )

    return make
