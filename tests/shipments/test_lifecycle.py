"""Every move from every status, for every role: allowed ones succeed, forbidden ones raise
the error the pages and the API rely on. The expected table is written out by hand here, not
derived from the code under test."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from dropmate.lib.exceptions import (
    Invalid,
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
)
from shipments import services
from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.factories import DriverFactory

S = Status
STAFF = {"dispatcher", "admin"}
ALLOWED: dict[tuple[str, str], set[str]] = {
    (S.DRAFT, S.AWAITING_PAYMENT): {"customer"},
    (S.AWAITING_PAYMENT, S.PENDING_REVIEW): {"system"},
    (S.AWAITING_PAYMENT, S.DRAFT): {"customer", "system"},
    (S.PENDING_REVIEW, S.ACCEPTED): STAFF,
    (S.PENDING_REVIEW, S.REJECTED): STAFF,
    (S.ACCEPTED, S.ASSIGNED): STAFF | {"system"},
    (S.ASSIGNED, S.ASSIGNED): STAFF | {"system"},
    (S.ASSIGNED, S.ACCEPTED): STAFF | {"driver"},
    (S.ASSIGNED, S.PICKED_UP): {"driver"},
    (S.PICKED_UP, S.IN_TRANSIT): {"driver"},
    (S.IN_TRANSIT, S.OUT_FOR_DELIVERY): {"driver"},
    (S.OUT_FOR_DELIVERY, S.DELIVERED): {"driver"},
    (S.OUT_FOR_DELIVERY, S.FAILED_ATTEMPT): {"driver"},
    (S.FAILED_ATTEMPT, S.OUT_FOR_DELIVERY): {"driver"},
    (S.FAILED_ATTEMPT, S.RETURNED): {"driver"} | STAFF,
    # The customer (or staff) choose a new delivery time: the status stays.
    (S.FAILED_ATTEMPT, S.FAILED_ATTEMPT): {"customer"} | STAFF,
    **{
        (source, S.CANCELLED): {"customer"} | STAFF
        for source in (S.DRAFT, S.AWAITING_PAYMENT, S.PENDING_REVIEW, S.ACCEPTED, S.ASSIGNED)
    },
}
ROLES = ["customer", "other_customer", "driver", "other_driver", "dispatcher", "admin", "system"]
# Statuses in which the shipment has dan as its driver (so dan can see it).
WITH_DRIVER = {S.ASSIGNED, S.PICKED_UP, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.FAILED_ATTEMPT}
WITH_DRIVER |= {S.DELIVERED, S.RETURNED}


def expected_outcome(source: str, target: str, role: str) -> type[Exception] | None:
    if role in ("other_customer", "other_driver"):
        return NotFound
    if role == "driver" and source not in WITH_DRIVER:
        return NotFound
    allowed = ALLOWED.get((source, target))
    if allowed is None:
        return InvalidTransition
    if role not in allowed:
        return NotAllowed
    return None


@pytest.fixture
def actors(alice, bob, dan, erin, dora, ada):
    return {
        "customer": alice,
        "other_customer": bob,
        "driver": dan.user,
        "other_driver": erin.user,
        "dispatcher": dora,
        "admin": ada,
        "system": None,
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("source", list(Status))
def test_every_move_from_every_status_for_every_role(source, role, actors, shipment_in):
    shipment = shipment_in(source)
    assert shipment.status == source
    fred = DriverFactory()
    # Moves that need a new delivery window get one; the others ignore it.
    tomorrow = timezone.now() + timedelta(days=1)
    window = (tomorrow, tomorrow + timedelta(hours=2))
    for target in Status:
        expected = expected_outcome(source, target, role)
        sid = transaction.savepoint_create()
        try:
            if expected is None:
                moved = services.shipment_transition(
                    shipment=shipment,
                    to=target,
                    actor=actors[role],
                    reason="because",
                    driver=fred,
                    delivery_window=window,
                )
                assert moved.status == target
                assert moved.version == shipment.version + 1
                last = moved.events.order_by("-seq").first()
                assert (last.from_status, last.status) == (source, target)
            else:
                with pytest.raises(expected):
                    services.shipment_transition(
                        shipment=shipment,
                        to=target,
                        actor=actors[role],
                        reason="because",
                        driver=fred,
                        delivery_window=window,
                    )
                assert Shipment.objects.get(pk=shipment.pk).status == source
        finally:
            transaction.savepoint_rollback(sid)


def test_the_table_covers_every_move_the_code_allows():
    from shipments.lifecycle import MOVES

    code = {(m.source, m.target): set(m.roles) for m in MOVES}
    assert set(code) == set(ALLOWED)
    for edge, roles in ALLOWED.items():
        assert code[edge] == roles, edge


def test_stale_version_is_refused_and_nothing_changes(shipment_in, dora):
    shipment = shipment_in(S.PENDING_REVIEW)
    with pytest.raises(StaleVersion) as info:
        services.shipment_transition(
            shipment=shipment, to=S.ACCEPTED, actor=dora, expected_version=shipment.version - 1
        )
    assert info.value.details == {
        "current_status": S.PENDING_REVIEW,
        "current_version": shipment.version,
    }
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert (fresh.status, fresh.version) == (S.PENDING_REVIEW, shipment.version)
    assert fresh.events.count() == fresh.last_seq


def test_matching_version_is_accepted(shipment_in, dora):
    shipment = shipment_in(S.PENDING_REVIEW)
    moved = services.shipment_transition(
        shipment=shipment, to=S.ACCEPTED, actor=dora, expected_version=shipment.version
    )
    assert moved.status == S.ACCEPTED


@pytest.mark.parametrize(
    ("status", "target", "role"),
    [
        (S.PENDING_REVIEW, S.REJECTED, "dora"),
        (S.OUT_FOR_DELIVERY, S.FAILED_ATTEMPT, "dan"),
        (S.ASSIGNED, S.ACCEPTED, "dan"),
    ],
)
def test_moves_that_need_a_reason_refuse_a_blank_one(status, target, role, shipment_in, dora, dan):
    shipment = shipment_in(status)
    actor = dora if role == "dora" else dan.user
    with pytest.raises(Invalid, match="reason"):
        services.shipment_transition(shipment=shipment, to=target, actor=actor, reason="   ")
    assert Shipment.objects.get(pk=shipment.pk).status == status


def test_assigning_needs_a_driver_with_a_vehicle(shipment_in, dora):
    shipment = shipment_in(S.ACCEPTED)
    with pytest.raises(Invalid, match="driver"):
        services.shipment_transition(shipment=shipment, to=S.ASSIGNED, actor=dora)
    no_van = DriverFactory(vehicle=None)
    with pytest.raises(Invalid, match="no vehicle"):
        services.shipment_transition(shipment=shipment, to=S.ASSIGNED, actor=dora, driver=no_van)


def test_reassigning_to_the_same_driver_is_refused(shipment_in, dora, dan):
    shipment = shipment_in(S.ASSIGNED)
    with pytest.raises(InvalidTransition):
        services.shipment_transition(shipment=shipment, to=S.ASSIGNED, actor=dora, driver=dan)


def test_driver_declining_puts_the_job_back_in_the_queue_with_the_reason(shipment_in, dan):
    shipment = shipment_in(S.ASSIGNED)
    moved = services.shipment_transition(
        shipment=shipment, to=S.ACCEPTED, actor=dan.user, reason="Van broke down"
    )
    assert moved.driver is None
    event = moved.events.order_by("-seq").first()
    assert event.note == "Van broke down"
    assert event.data["previous_driver_id"] == dan.pk


def test_timeline_seq_is_gapless_along_the_whole_path(shipment_in):
    shipment = shipment_in(S.RETURNED)
    seqs = list(shipment.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert Shipment.objects.get(pk=shipment.pk).last_seq == seqs[-1]
    statuses = list(shipment.events.order_by("seq").values_list("status", flat=True))
    assert statuses[0] == S.DRAFT and statuses[-1] == S.RETURNED


def test_draft_edit_is_refused_after_booking_and_for_others(shipment_in, alice, bob):
    shipment = shipment_in(S.AWAITING_PAYMENT)
    with pytest.raises(InvalidTransition):
        services.shipment_update_draft(shipment=shipment, actor=alice, description="x")
    draft = shipment_in(S.DRAFT)
    with pytest.raises(NotFound):
        services.shipment_update_draft(shipment=draft, actor=bob, description="x")
    with pytest.raises(Invalid, match="Unknown fields: status"):
        services.shipment_update_draft(shipment=draft, actor=alice, status=S.DELIVERED)
