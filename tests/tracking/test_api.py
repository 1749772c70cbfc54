"""API v1 for live tracking, with DRF's APIClient."""

import pytest
from rest_framework.test import APIClient

from shipments.lifecycle import Status
from tests.tracking.conftest import fix_at
from tracking.models import LocationFix
from tracking.services import fixes_ingest

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/drivers/me/locations"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_driver_posts_a_batch_and_gets_a_result_per_fix(dan):
    good, bad = fix_at(51.05, 3.72), fix_at(95, 3.72)
    response = client_for(dan.user).post(URL, {"fixes": [good, bad, good]}, format="json")
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["accepted", "rejected", "duplicate"]
    assert LocationFix.objects.filter(driver=dan).count() == 1


def test_posting_locations_needs_a_driver_account(alice):
    response = client_for(alice).post(URL, {"fixes": [fix_at(51.05, 3.72)]}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_anonymous_cannot_post_locations():
    response = APIClient().post(URL, {"fixes": [fix_at(51.05, 3.72)]}, format="json")
    assert response.status_code in (401, 403)


def test_empty_or_malformed_batch_is_a_400_in_the_one_error_shape(dan):
    client = client_for(dan.user)
    for body in ({"fixes": []}, {"fixes": "nope"}, {}):
        response = client.post(URL, body, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid"


def test_off_duty_driver_gets_rejected_results_saying_so(dan):
    dan.on_duty = False
    dan.save(update_fields=["on_duty"])
    response = client_for(dan.user).post(URL, {"fixes": [fix_at(51.05, 3.72)]}, format="json")
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["status"] == "rejected" and "off duty" in result["error"]


def test_events_endpoint_returns_what_was_missed(shipment_in, alice):
    shipment = shipment_in(Status.IN_TRANSIT)
    client = client_for(alice)
    response = client.get(f"/api/v1/shipments/{shipment.tracking_number}/events?after=2")
    assert response.status_code == 200
    body = response.json()
    assert body["last_seq"] == shipment.last_seq
    seqs = [f["seq"] for f in body["frames"] if f["seq"] is not None]
    assert seqs == list(range(3, shipment.last_seq + 1))
    assert body["frames"][-1]["data"]["status"] == Status.IN_TRANSIT


def test_events_endpoint_sends_a_snapshot_after_a_long_gap(shipment_in, alice, settings):
    settings.TRACKING_CATCH_UP_MAX_EVENTS = 2
    shipment = shipment_in(Status.IN_TRANSIT)
    body = client_for(alice).get(f"/api/v1/shipments/{shipment.tracking_number}/events").json()
    [frame] = body["frames"]
    assert frame["type"] == "snapshot"
    assert frame["seq"] == shipment.last_seq
    assert frame["data"]["status"] == Status.IN_TRANSIT


def test_events_of_another_customers_shipment_are_404(shipment_in, bob):
    shipment = shipment_in(Status.IN_TRANSIT)
    response = client_for(bob).get(f"/api/v1/shipments/{shipment.tracking_number}/events")
    assert response.status_code == 404


def test_location_is_404_for_the_customer_until_out_for_delivery(shipment_in, alice, dan, dora):
    shipment = shipment_in(Status.IN_TRANSIT)
    fixes_ingest(driver=dan, fixes=[fix_at(51.0510, 3.7230)])
    url = f"/api/v1/shipments/{shipment.tracking_number}/location"
    assert client_for(alice).get(url).status_code == 404
    staff = client_for(dora).get(url)
    assert staff.status_code == 200
    assert staff.json()["position"]["lat"] == pytest.approx(51.0510)


def test_location_is_shown_to_the_customer_when_out_for_delivery(shipment_in, alice, dan):
    shipment = shipment_in(Status.OUT_FOR_DELIVERY)
    fixes_ingest(driver=dan, fixes=[fix_at(51.0510, 3.7230)])
    response = client_for(alice).get(f"/api/v1/shipments/{shipment.tracking_number}/location")
    assert response.status_code == 200
    assert response.json()["position"]["lng"] == pytest.approx(3.7230)
    assert response.json()["eta"]["seconds"] > 0


def test_vehicle_location_is_for_staff_only(dan, dora, alice, erin):
    fixes_ingest(driver=dan, fixes=[fix_at(51.0510, 3.7230)])
    url = f"/api/v1/vehicles/{dan.vehicle_id}/location"
    assert client_for(dora).get(url).json()["driver_id"] == dan.pk
    assert client_for(alice).get(url).status_code == 404
    assert client_for(erin.user).get(url).status_code == 404
    assert client_for(dora).get("/api/v1/vehicles/999999/location").status_code == 404
