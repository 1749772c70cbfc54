"""The driver portal's pages: who may open what, and what each button does."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from drivers.models import DriverMessage
from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent
from tests.driver.conftest import jpeg_bytes, png_bytes


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def login(client, driver_or_user):
    user = getattr(driver_or_user, "user", driver_or_user)
    client.force_login(user)
    return client


JOB_URLS = [
    ("driver-job", "get"),
    ("driver-job-accept", "post"),
    ("driver-job-decline", "post"),
    ("driver-job-status", "post"),
    ("driver-job-deliver", "post"),
]


@pytest.mark.parametrize(("name", "method"), JOB_URLS)
def test_another_drivers_job_is_404_on_every_job_url(client, job, erin, name, method):
    shipment = job(Status.OUT_FOR_DELIVERY)
    login(client, erin)
    url = reverse(name, args=[shipment.tracking_number])
    response = getattr(client, method)(url, {"to": Status.DELIVERED, "reason": "too_far"})
    assert response.status_code == 404
    assert Shipment.objects.get(pk=shipment.pk).status == Status.OUT_FOR_DELIVERY


@pytest.mark.parametrize("persona", ["alice", "dora", "ada"])
@pytest.mark.parametrize(("name", "method"), JOB_URLS)
def test_customers_and_staff_get_404_on_driver_job_urls(
    client, job, request, persona, name, method
):
    shipment = job(Status.OUT_FOR_DELIVERY)
    login(client, request.getfixturevalue(persona))
    url = reverse(name, args=[shipment.tracking_number])
    assert getattr(client, method)(url, {"to": Status.DELIVERED}).status_code == 404


@pytest.mark.parametrize("persona", ["alice", "dora"])
@pytest.mark.parametrize("name", ["driver-home", "driver-messages"])
def test_non_drivers_get_404_on_driver_pages(client, request, persona, name):
    login(client, request.getfixturevalue(persona))
    assert client.get(reverse(name)).status_code == 404


def test_logged_out_visitors_go_to_login(client, job):
    shipment = job(Status.ASSIGNED)
    for url in (reverse("driver-home"), reverse("driver-job", args=[shipment.tracking_number])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_own_job_page_shows_addresses_contacts_navigation_and_allowed_buttons(client, job, dan):
    shipment = job(Status.PICKED_UP, pickup_instructions="Ring twice")
    login(client, dan)
    response = client.get(reverse("driver-job", args=[shipment.tracking_number]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Veldstraat 12" in html and "Kouter 7" in html
    assert 'href="tel:+32470222222"' in html
    assert 'href="geo:51.050000,3.723500' in html
    assert "openstreetmap.org/directions" in html
    assert "Ring twice" in html
    assert 'data-move="in_transit"' in html
    # Only what is allowed now.
    assert 'data-move="delivered"' not in html and 'data-move="picked_up"' not in html


def test_home_lists_todays_jobs_and_an_empty_state(client, dan, job):
    login(client, dan)
    assert "No jobs for you today" in client.get(reverse("driver-home")).content.decode()
    shipment = job(Status.ASSIGNED)
    html = client.get(reverse("driver-home")).content.decode()
    assert shipment.tracking_number in html and 'rel="manifest"' in html


def test_job_list_fragment_is_only_the_drivers_own_list(client, dan, erin, job):
    shipment = job(Status.ASSIGNED)
    login(client, dan)
    html = client.get(reverse("driver-home"), {"fragment": "jobs"}).content.decode()
    assert html.lstrip().startswith('<div id="job-list"')
    assert f'data-tracking="{shipment.tracking_number}"' in html
    assert f'data-version="{shipment.version}"' in html
    assert "duty-button" not in html and "<html" not in html
    login(client, erin)
    html = client.get(reverse("driver-home"), {"fragment": "jobs"}).content.decode()
    assert shipment.tracking_number not in html and "No jobs for you today" in html


def test_duty_buttons_switch_duty(client, dan):
    login(client, dan)
    response = client.post(reverse("driver-duty"), {"on_duty": "0"}, follow=True)
    dan.refresh_from_db()
    assert dan.on_duty is False
    assert "off duty" in response.content.decode()
    client.post(reverse("driver-duty"), {"on_duty": "1"})
    dan.refresh_from_db()
    assert dan.on_duty is True


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (Status.ASSIGNED, Status.PICKED_UP),
        (Status.PICKED_UP, Status.IN_TRANSIT),
        (Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY),
        (Status.OUT_FOR_DELIVERY, Status.DELIVERED),
        (Status.FAILED_ATTEMPT, Status.OUT_FOR_DELIVERY),
        (Status.FAILED_ATTEMPT, Status.RETURNED),
    ],
)
def test_each_status_button_moves_the_job(client, job, dan, source, target):
    shipment = job(source)
    login(client, dan)
    response = client.post(
        reverse("driver-job-status", args=[shipment.tracking_number]), {"to": target}
    )
    assert response.status_code == 302
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == target
    event = fresh.events.order_by("-seq").first()
    assert event.actor_id == dan.user_id and event.from_status == source


def test_a_button_for_a_move_not_allowed_now_is_refused_with_a_message(client, job, dan):
    shipment = job(Status.ASSIGNED)
    login(client, dan)
    response = client.post(
        reverse("driver-job-status", args=[shipment.tracking_number]), {"to": Status.DELIVERED}
    )
    assert response.status_code == 409
    assert "cannot become delivered" in response.content.decode()
    assert Shipment.objects.get(pk=shipment.pk).status == Status.ASSIGNED


def test_failed_attempt_needs_a_reason(client, job, dan):
    shipment = job(Status.OUT_FOR_DELIVERY)
    login(client, dan)
    url = reverse("driver-job-status", args=[shipment.tracking_number])
    response = client.post(url, {"to": Status.FAILED_ATTEMPT})
    assert response.status_code == 400
    assert 'role="alert">Choose why the delivery failed.' in response.content.decode()
    client.post(url, {"to": Status.FAILED_ATTEMPT, "reason": "no_access", "note": "Gate shut"})
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.FAILED_ATTEMPT
    assert "Gate shut" in fresh.events.order_by("-seq").first().note


def test_accept_keeps_the_job_and_decline_with_reason_returns_it(client, job, dan):
    shipment = job(Status.ASSIGNED)
    login(client, dan)
    client.post(reverse("driver-job-accept", args=[shipment.tracking_number]))
    assert shipment.events.filter(kind=ShipmentEvent.Kind.NOTE).count() == 1
    url = reverse("driver-job-decline", args=[shipment.tracking_number])
    assert client.post(url, {"reason": ""}).status_code == 400
    assert Shipment.objects.get(pk=shipment.pk).status == Status.ASSIGNED
    response = client.post(url, {"reason": "vehicle_problem", "note": "Flat tyre"})
    assert response.status_code == 302
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.ACCEPTED and fresh.driver_id is None
    assert "Vehicle problem — Flat tyre" in fresh.events.order_by("-seq").first().note
    # It is no longer dan's: its page is 404 for him now.
    assert client.get(reverse("driver-job", args=[shipment.tracking_number])).status_code == 404


@override_settings(POD_REQUIRED_SERVICE_LEVELS=["same_day"])
def test_delivered_without_pod_is_refused_where_required_and_works_with_photo_and_signature(
    client, job, dan
):
    shipment = job(Status.OUT_FOR_DELIVERY, service_level="same_day")
    login(client, dan)
    url = reverse("driver-job-deliver", args=[shipment.tracking_number])
    response = client.post(url, {"recipient_name": "Dee"})
    assert response.status_code == 400
    assert "needs a proof of delivery" in response.content.decode()
    assert Shipment.objects.get(pk=shipment.pk).status == Status.OUT_FOR_DELIVERY
    signature = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    photo = SimpleUploadedFile("door.jpg", jpeg_bytes(gps=(51.05, 3.72)), "image/jpeg")
    response = client.post(
        url, {"photo": photo, "signature_data": signature, "recipient_name": "Dee"}
    )
    assert response.status_code == 302
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.DELIVERED and fresh.actual_arrival is not None
    assert fresh.pod.photo.name.startswith("pod/") and fresh.pod.signature.name.endswith(".png")
    assert fresh.pod.photo_gps_lat == pytest.approx(51.05, abs=1e-4)


def test_an_html_file_as_photo_gets_a_clear_message_not_a_500(client, job, dan):
    shipment = job(Status.OUT_FOR_DELIVERY)
    login(client, dan)
    fake = SimpleUploadedFile("door.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg")
    response = client.post(
        reverse("driver-job-deliver", args=[shipment.tracking_number]), {"photo": fake}
    )
    assert response.status_code == 400
    assert "use a JPEG, PNG or WebP picture" in response.content.decode()
    assert not Shipment.objects.get(pk=shipment.pk).events.filter(status=Status.DELIVERED)


def test_handover_pin_right_wrong_and_lockout_through_the_page(client, pin_job, dan, settings):
    settings.HANDOVER_PIN_MAX_FAILURES = 2
    shipment, pin = pin_job()
    wrong = "000000" if pin != "000000" else "111111"
    login(client, dan)
    url = reverse("driver-job-deliver", args=[shipment.tracking_number])

    def photo():
        return SimpleUploadedFile("door.jpg", jpeg_bytes(), "image/jpeg")

    response = client.post(url, {"photo": photo(), "pin": wrong})
    assert response.status_code == 400
    assert "Wrong PIN. 1 try left" in response.content.decode()
    response = client.post(url, {"photo": photo(), "pin": wrong})
    assert "locked" in response.content.decode()
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.pin_locked and fresh.status == Status.OUT_FOR_DELIVERY
    response = client.post(url, {"photo": photo(), "pin": pin})
    assert response.status_code == 400
    assert "locked" in response.content.decode()
    assert Shipment.objects.get(pk=shipment.pk).status == Status.OUT_FOR_DELIVERY


def test_right_pin_delivers_through_the_page(client, pin_job, dan):
    shipment, pin = pin_job()
    login(client, dan)
    photo = SimpleUploadedFile("door.jpg", jpeg_bytes(), "image/jpeg")
    response = client.post(
        reverse("driver-job-deliver", args=[shipment.tracking_number]),
        {"photo": photo, "pin": pin, "recipient_name": "Dee"},
    )
    assert response.status_code == 302
    assert Shipment.objects.get(pk=shipment.pk).status == Status.DELIVERED


def test_messages_from_dispatch_are_listed_and_marked_read(client, dan, erin, dora):
    DriverMessage.objects.create(driver=dan, sender=dora, body="Parking at Kouter is closed")
    DriverMessage.objects.create(driver=erin, sender=dora, body="For Erin only")
    login(client, dan)
    html = client.get(reverse("driver-home")).content.decode()
    assert 'aria-label="1 unread"' in html
    html = client.get(reverse("driver-messages")).content.decode()
    assert "Parking at Kouter is closed" in html and "For Erin only" not in html
    assert not DriverMessage.objects.filter(driver=dan, read_at__isnull=True).exists()


def test_service_worker_is_served_under_driver_with_its_scope(client):
    response = client.get(reverse("driver-sw"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/driver/"
    assert "/driver/offline/" in response.content.decode()


def test_manifest_describes_an_installable_app(client):
    data = client.get(reverse("driver-manifest")).json()
    assert data["start_url"] == "/driver/" and data["scope"] == "/driver/"
    assert data["display"] == "standalone"
    assert {i["sizes"] for i in data["icons"]} >= {"192x192", "512x512"}
