"""The customer's shipment page carries the live-tracking partial while a driver has the job."""

import pytest
from django.urls import reverse

from shipments.lifecycle import Status


@pytest.mark.parametrize(
    ("status", "live"),
    [
        (Status.PENDING_REVIEW, False),
        (Status.ASSIGNED, True),
        (Status.OUT_FOR_DELIVERY, True),
        (Status.DELIVERED, False),
    ],
)
def test_shipment_page_shows_live_tracking_only_while_on_the_road(
    client, alice, shipment_in, status, live
):
    shipment = shipment_in(status)
    client.force_login(alice)
    page = client.get(reverse("customer-shipment", kwargs={"tracking": shipment.tracking_number}))
    assert page.status_code == 200
    html = page.content.decode()
    assert ("data-live-status" in html) is live
    assert ('id="live-config"' in html) is live
    # One map: the live one while on the road (it has pickup and drop-off), else the plain one.
    assert ('id="route-map"' in html) is not live
    assert html.count('class="map"') + html.count('class="live-map"') == 1
