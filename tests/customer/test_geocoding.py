"""Geocoding through a Nominatim-compatible endpoint (a stand-in on loopback), and the pin
alone when no geocoder is configured."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from dropmate.lib.geocoding import geocode
from shipments.models import Shipment


class Nominatim(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        query = parse_qs(urlparse(self.path).query)
        rows = []
        if "Kouter" in query.get("q", [""])[0]:
            rows = [{"lat": "51.0511", "lon": "3.7260", "display_name": "Kouter, Ghent"}]
        body = json.dumps(rows).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def nominatim(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Nominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.DROPMATE_GEOCODER_URL = f"http://127.0.0.1:{server.server_port}/search"
    yield
    server.shutdown()
    server.server_close()


def test_no_geocoder_means_pin_only(settings):
    settings.DROPMATE_GEOCODER_URL = ""
    assert geocode("Kouter 7, Ghent") is None


def test_geocoder_finds_an_address(nominatim):
    found = geocode("Kouter 7, 9000 Ghent")
    assert (found.lat, found.lng) == (51.0511, 3.7260)
    assert geocode("Nowhere street") is None


def test_unreachable_geocoder_is_not_fatal(settings):
    from tests.realservices import free_port

    settings.DROPMATE_GEOCODER_URL = f"http://127.0.0.1:{free_port()}/search"
    assert geocode("Kouter 7") is None


def test_wizard_fills_a_missing_pin_from_the_geocoder(nominatim, client, alice, posts):
    client.force_login(alice)
    client.post(reverse("customer-book-new", kwargs={"step": "pickup"}), posts["pickup"])
    shipment = Shipment.objects.get()
    dropoff = {**posts["dropoff"], "dropoff_lat": "", "dropoff_lng": ""}
    response = client.post(
        reverse("customer-book-step", args=[shipment.tracking_number, "dropoff"]), dropoff
    )
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert (shipment.dropoff_lat, shipment.dropoff_lng) == (51.0511, 3.7260)


def test_geocode_endpoint_for_the_map(nominatim, client, alice):
    client.force_login(alice)
    ok = client.get(reverse("customer-book-geocode"), {"q": "Kouter 7"})
    assert ok.json()["lat"] == 51.0511
    assert client.get(reverse("customer-book-geocode"), {"q": "nothing"}).status_code == 404


def test_step_page_offers_search_only_with_a_geocoder(client, alice, settings):
    client.force_login(alice)
    settings.DROPMATE_GEOCODER_URL = ""
    html = client.get(reverse("customer-book-new", kwargs={"step": "pickup"})).content.decode()
    assert 'id="geocode"' not in html and 'id="booking-map"' in html
    assert 'id="id_pickup_lat"' in html  # the pin can be typed without tiles
