"""POST /api/v1/shipments/{t}/redelivery: a new delivery time after a failed attempt, with the
same rules as the customer's page, errors in the one error shape, and in the OpenAPI schema."""

from datetime import UTC, datetime, time, timedelta

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone

from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent
from shipments.services import REDELIVERY_MARK
from tests.api.conftest import error_code

PATH = "/api/v1/shipments/{tracking}/redelivery"


@pytest.fixture
def failed(shipment_in):
    return shipment_in(Status.FAILED_ATTEMPT)


def at(day_offset: int, hhmm: str) -> datetime:
    day = timezone.localdate() + timedelta(days=day_offset)
    return timezone.make_aware(datetime.combine(day, time.fromisoformat(hhmm)))


def body(shipment: Shipment, *, days=1, start="14:00", end="16:00", **extra) -> dict:
    data = {
        "version": shipment.version,
        "delivery_window_start": at(days, start).isoformat(),
        "delivery_window_end": at(days, end).isoformat(),
    }
    data.update(extra)
    return data


def redeliver(client, shipment, data):
    return client.post(PATH.format(tracking=shipment.tracking_number), data, format="json")


def redeliveries(shipment: Shipment):
    return ShipmentEvent.objects.filter(shipment=shipment, data__mark=REDELIVERY_MARK)


def test_customer_sets_a_new_window_and_the_event_is_on_the_timeline(api, failed):
    response = redeliver(api["alice"], failed, body(failed, dropoff_instructions=" Side door "))
    assert response.status_code == 200, response.json()
    shipment = response.json()
    assert shipment["status"] == "failed_attempt"
    assert shipment["version"] == failed.version + 1
    assert shipment["delivery_window_start"] == at(1, "14:00").astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert shipment["dropoff"]["instructions"] == "Side door"
    new_time = next(m for m in shipment["allowed_transitions"] if m["needs_window"])
    assert (new_time["to"], new_time["label"]) == ("failed_attempt", "New delivery time")

    fresh = Shipment.objects.get(pk=failed.pk)
    assert (fresh.delivery_window_start, fresh.delivery_window_end) == (
        at(1, "14:00"),
        at(1, "16:00"),
    )
    event = redeliveries(failed).get()
    assert event.seq == fresh.last_seq == failed.last_seq + 1
    assert event.note.startswith("New delivery time: ")
    assert event.data["instructions_changed"] is True


def test_leaving_out_the_instructions_keeps_them(api, shipment_in):
    shipment = shipment_in(Status.FAILED_ATTEMPT, dropoff_instructions="Ring twice")
    assert redeliver(api["alice"], shipment, body(shipment)).status_code == 200
    assert Shipment.objects.get(pk=shipment.pk).dropoff_instructions == "Ring twice"
    assert redeliveries(shipment).get().data["instructions_changed"] is False


def test_another_customer_gets_404_and_a_driver_403(api, failed):
    other = redeliver(api["bob"], failed, body(failed))
    assert other.status_code == 404 and error_code(other) == "not_found"
    driver = redeliver(api["dan"], failed, body(failed))
    assert driver.status_code == 403 and error_code(driver) == "forbidden"
    assert not redeliveries(failed).exists()


def test_only_a_failed_attempt_can_get_a_new_time(api, shipment_in):
    shipment = shipment_in(Status.OUT_FOR_DELIVERY)
    response = redeliver(api["alice"], shipment, body(shipment))
    assert response.status_code == 409 and error_code(response) == "conflict"
    error = response.json()["error"]
    assert "only after a failed delivery attempt" in error["message"]
    assert error["details"] == {
        "current_status": "out_for_delivery",
        "current_version": shipment.version,
    }


@pytest.mark.parametrize(
    ("days", "start", "end", "field", "message"),
    [
        (-1, "14:00", "16:00", "delivery_window_start", "must start in the future"),
        (61, "14:00", "16:00", "delivery_window_start", "We book at most 60 days ahead."),
        (1, "16:00", "14:00", "delivery_window_end", "must end after it starts"),
    ],
)
def test_a_window_against_the_booking_rules_is_400_with_field_errors(
    api, failed, settings, days, start, end, field, message
):
    settings.DROPMATE_BOOKING_HORIZON_DAYS = 60
    response = redeliver(api["alice"], failed, body(failed, days=days, start=start, end=end))
    assert response.status_code == 400 and error_code(response) == "invalid"
    details = response.json()["error"]["details"]
    assert list(details) == [field]
    assert message in details[field][0]
    assert not redeliveries(failed).exists()


def test_missing_and_malformed_fields_are_400(api, failed):
    response = redeliver(
        api["alice"],
        failed,
        {"delivery_window_start": "tomorrow", "dropoff_instructions": "z" * 501},
    )
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert set(response.json()["error"]["details"]) == {
        "version",
        "delivery_window_start",
        "delivery_window_end",
        "dropoff_instructions",
    }


def test_the_limit_stops_the_customer_but_not_dispatch(api, failed, settings):
    settings.DROPMATE_REDELIVERY_LIMIT = 1
    assert redeliver(api["alice"], failed, body(failed)).status_code == 200
    fresh = Shipment.objects.get(pk=failed.pk)
    refused = redeliver(api["alice"], fresh, body(fresh, days=2))
    assert refused.status_code == 409 and error_code(refused) == "conflict"
    assert "contact our support team" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["redelivery_limit"] == 1

    by_staff = redeliver(api["dora"], fresh, body(fresh, days=2))
    assert by_staff.status_code == 200
    assert redeliveries(failed).count() == 2
    assert redeliveries(failed).last().actor_role == "dispatcher"


def test_a_stale_version_is_409_and_changes_nothing(api, failed):
    response = redeliver(api["alice"], failed, body(failed, version=failed.version - 1))
    assert response.status_code == 409 and error_code(response) == "stale_version"
    assert response.json()["error"]["details"]["current_version"] == failed.version
    assert Shipment.objects.get(pk=failed.pk).version == failed.version
    assert not redeliveries(failed).exists()


def test_sending_the_same_request_twice_records_one_event(api, failed):
    data = body(failed, dropoff_instructions="Ring twice")
    first = redeliver(api["alice"], failed, data)
    again = redeliver(api["alice"], failed, data)  # a retry with the version sent first
    assert first.status_code == again.status_code == 200
    assert first.json()["version"] == again.json()["version"] == failed.version + 1
    assert redeliveries(failed).count() == 1


def test_the_transitions_endpoint_cannot_skip_the_window(api, failed):
    response = api["alice"].post(
        f"/api/v1/shipments/{failed.tracking_number}/transitions",
        {"to": "failed_attempt", "version": failed.version},
        format="json",
    )
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert response.json()["error"]["details"] == {"field": "delivery_window_start"}
    assert not redeliveries(failed).exists()


def test_the_endpoint_is_in_the_schema_with_its_errors(tmp_path, db):
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    schema = yaml.safe_load(path.read_text())
    operation = schema["paths"]["/api/v1/shipments/{tracking}/redelivery"]["post"]
    assert operation["operationId"] == "shipments_redelivery"
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert request == "#/components/schemas/RedeliveryInputRequest"
    assert {"200", "400", "401", "403", "404", "409", "429"} <= set(operation["responses"])
    for code, response in operation["responses"].items():
        if code >= "400":
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", code
    required = schema["components"]["schemas"]["RedeliveryInputRequest"]["required"]
    assert set(required) == {"version", "delivery_window_start", "delivery_window_end"}
