"""The live page and the staff fleet page: who may open them and what they render."""

import json

import pytest

from shipments.lifecycle import Status
from tests.tracking.conftest import fix_at
from tracking.services import fixes_ingest

pytestmark = pytest.mark.django_db


def live_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="live-config" type="application/json">') + 49
    return json.loads(html[start : html.index("</script>", start)])


def test_live_page_opens_for_customer_driver_and_staff(client, shipment_in, alice, dan, dora):
    shipment = shipment_in(Status.IN_TRANSIT)
    for user in (alice, dan.user, dora):
        client.force_login(user)
        response = client.get(f"/live/{shipment.tracking_number}/")
        assert response.status_code == 200
        config = live_config(response)
        assert config["path"] == f"/ws/shipments/{shipment.tracking_number}/"
        assert config["lastSeq"] == shipment.last_seq
        assert b"data-live-status" in response.content


def test_live_page_is_404_for_anyone_else(client, shipment_in, bob, erin):
    shipment = shipment_in(Status.IN_TRANSIT)
    for user in (bob, erin.user):
        client.force_login(user)
        assert client.get(f"/live/{shipment.tracking_number}/").status_code == 404


def test_live_page_needs_a_login(client, shipment_in):
    shipment = shipment_in(Status.IN_TRANSIT)
    response = client.get(f"/live/{shipment.tracking_number}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db(transaction=True)
def test_live_page_renders_the_driver_only_under_the_privacy_rule(client, shipment_in, alice, dan):
    shipment = shipment_in(Status.IN_TRANSIT)
    fixes_ingest(driver=dan, fixes=[fix_at(51.051, 3.723)])
    client.force_login(alice)
    config = live_config(client.get(f"/live/{shipment.tracking_number}/"))
    assert config["snapshot"]["position"] is None
    assert config["snapshot"]["dropoff"] == {"lat": 51.05, "lng": 3.7235}


def test_fleet_page_is_for_staff(client, dora, alice, dan):
    client.force_login(dora)
    response = client.get("/staff/fleet/")
    assert response.status_code == 200
    assert f'data-driver="{dan.pk}"'.encode() in response.content
    # The staff navigation, with this page marked as the current one.
    page = response.content.decode()
    assert 'href="/staff/fleet/" aria-current="page"' in page
    assert 'href="/staff/analytics/"' in page and 'href="/staff/"' in page
    for user in (alice, dan.user):
        client.force_login(user)
        assert client.get("/staff/fleet/").status_code == 404


def test_fleet_page_says_so_when_nobody_is_on_duty(client, dora):
    client.force_login(dora)
    assert b"No driver is on duty right now" in client.get("/staff/fleet/").content
