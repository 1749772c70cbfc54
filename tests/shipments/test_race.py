"""Two connections racing the same transition on PostgreSQL: exactly one wins."""

import pytest
from django.db import connection

from dropmate.lib.exceptions import InvalidTransition, StaleVersion
from shipments import services
from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.factories import DriverFactory
from tests.realservices import race, require_postgres


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_version", [True, False])
def test_racing_the_same_transition_has_exactly_one_winner(shipment_in, dora, with_version):
    require_postgres()
    assert connection.vendor == "postgresql"
    shipment = shipment_in(Status.PENDING_REVIEW)
    version = shipment.version

    def accept(_i: int):
        return services.shipment_transition(
            shipment=shipment,
            to=Status.ACCEPTED,
            actor=dora,
            expected_version=version if with_version else None,
        )

    results = race(4, accept)
    winners = [r for r in results if isinstance(r, Shipment)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1, results
    assert len(losers) == 3
    expected_error = StaleVersion if with_version else InvalidTransition
    assert all(isinstance(e, expected_error) for e in losers), losers
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert (fresh.status, fresh.version) == (Status.ACCEPTED, version + 1)
    seqs = list(fresh.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, fresh.last_seq + 1))
    assert fresh.events.filter(status=Status.ACCEPTED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_reassignments_keep_seq_gapless_and_lose_no_update(shipment_in, dora):
    require_postgres()
    shipment = shipment_in(Status.ASSIGNED)
    drivers = [DriverFactory() for _ in range(6)]

    def reassign(i: int):
        # No version: each waits for the lock and applies on top of the previous one.
        return services.shipment_transition(
            shipment=shipment, to=Status.ASSIGNED, actor=dora, driver=drivers[i]
        )

    results = race(6, reassign)
    assert all(isinstance(r, Shipment) for r in results), results
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.version == shipment.version + 6
    events = list(fresh.events.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assignment_events = events[-6:]
    assert {e.data["driver_id"] for e in assignment_events} == {d.pk for d in drivers}
    # Each event names the driver the previous one assigned: no update was lost.
    for before, after in zip(assignment_events, assignment_events[1:], strict=False):
        assert after.data["previous_driver_id"] == before.data["driver_id"]
    assert fresh.driver_id == assignment_events[-1].data["driver_id"]
