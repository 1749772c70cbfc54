"""Personas, as in the tests we admire: alice is a customer, bob another customer who must get
404 on alice's things, dan drives, dora dispatches, ada administers."""

import pytest
from django.conf import settings

from dropmate.accounts.models import Role
from tests.factories import PASSWORD, DriverFactory, UserFactory, make_shipment

# Tests create many users; the production hasher is slow on purpose.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com", first_name="Alice", role=Role.CUSTOMER)


@pytest.fixture
def bob(db):
    return UserFactory(email="bob@example.com", first_name="Bob", role=Role.CUSTOMER)


@pytest.fixture
def dan(db):
    """A driver with a van, on duty."""
    return DriverFactory(user__email="dan@dropmate.local", user__first_name="Dan")


@pytest.fixture
def erin(db):
    """Another driver, who must get 404 on dan's jobs."""
    return DriverFactory(user__email="erin@dropmate.local", user__first_name="Erin")


@pytest.fixture
def dora(db):
    return UserFactory(
        email="dispatch@dropmate.local", first_name="Dora", role=Role.DISPATCHER, is_staff=True
    )


@pytest.fixture
def ada(db):
    return UserFactory(
        email="admin@dropmate.local",
        first_name="Ada",
        role=Role.ADMIN,
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def shipment_in(alice, dan, dora):
    """Factory: alice's shipment in a given status, with dan as driver and dora as staff."""

    def make(status: str, **fields):
        return make_shipment(customer=alice, status=status, driver=dan, staff=dora, **fields)

    return make
