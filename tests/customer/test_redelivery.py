"""After a failed attempt the customer chooses a new delivery time on their own shipment page:
one lifecycle move (failed_attempt → failed_attempt), a note with its seq on the timeline, the
window stored for the driver's next try. alice owns the shipment, bob is another customer (404),
dan is the driver."""

import re
from datetime import datetime, time, timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from drivers.services import driver_job_move
from dropmate.lib.exceptions import Invalid
from notifications.models import Notification
from shipments import services
from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent
from shipments.services import REDELIVERY_MARK
from tests.factories import make_shipment
from tests.shipments.test_effects import watch
from tracking import broadcast

HEADING = "Choose a new delivery time"


@pytest.fixture
def failed(shipment_in):
    """alice's shipment after dan's failed attempt (recipient not home)."""
    return shipment_in(Status.FAILED_ATTEMPT)


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def page_url(shipment: Shipment) -> str:
    return reverse("customer-shipment", args=[shipment.tracking_number])


def at(day_offset: int, hhmm: str) -> datetime:
    day = timezone.localdate() + timedelta(days=day_offset)
    return timezone.make_aware(datetime.combine(day, time.fromisoformat(hhmm)))


def form(shipment: Shipment, *, days=1, start="14:00", end="16:00", **extra) -> dict:
    """What the browser posts: a day, a time window on it, the version the page showed."""
    day = timezone.localdate() + timedelta(days=days)
    data = {
        "version": shipment.version,
        "date": day.isoformat(),
        "window_start": start,
        "window_end": end,
        "dropoff_instructions": shipment.dropoff_instructions,
    }
    data.update(extra)
    return data


def redeliveries(shipment: Shipment):
    return ShipmentEvent.objects.filter(shipment=shipment, data__mark=REDELIVERY_MARK)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- The page --------------------------------------------------------------------------------


def test_failed_attempt_page_offers_an_accessible_form(logged_in, failed):
    html = text(logged_in.get(page_url(failed)))
    assert HEADING in html
    assert f'name="version" value="{failed.version}"' in html
    for name, label in (
        ("date", "Day"),
        ("window_start", "From"),
        ("window_end", "Until"),
        ("dropoff_instructions", "Instructions for the driver (optional)"),
    ):
        assert f'<label for="id_{name}">{label}' in html
    assert 'type="date"' in html and 'type="time"' in html
    assert 'maxlength="500"' in html
    assert "up to 3 times" in html


def test_customer_chooses_a_new_time_and_sees_it_on_the_timeline(logged_in, failed):
    failed_at = failed.status_changed_at
    response = logged_in.post(
        page_url(failed), form(failed, dropoff_instructions="Code 4711, second floor")
    )
    assert response.status_code == 302 and response.url == page_url(failed)

    fresh = Shipment.objects.get(pk=failed.pk)
    assert fresh.status == Status.FAILED_ATTEMPT
    assert (fresh.delivery_window_start, fresh.delivery_window_end) == (
        at(1, "14:00"),
        at(1, "16:00"),
    )
    assert fresh.dropoff_instructions == "Code 4711, second floor"
    assert fresh.version == failed.version + 1
    # Not a status change: the failed attempt's time stays.
    assert fresh.status_changed_at == failed_at

    event = redeliveries(failed).get()
    assert event.seq == fresh.last_seq == failed.last_seq + 1
    assert (event.from_status, event.status, event.version) == (
        Status.FAILED_ATTEMPT,
        Status.FAILED_ATTEMPT,
        fresh.version,
    )
    assert event.actor_role == "customer"
    label = timezone.localtime(at(1, "14:00")).strftime("%a %-d %b 14:00–16:00")
    assert event.note == f"New delivery time: {label} · new instructions for the driver"
    assert event.data["delivery_window_start"] == at(1, "14:00").isoformat()
    # The instructions can hold a door code: never in the note that is pushed to watchers.
    assert "4711" not in event.note

    html = text(logged_in.get(response.url))
    assert f"New delivery time saved: {label}." in html
    assert f"— New delivery time: {label}" in html  # the timeline entry


@pytest.mark.django_db(transaction=True)
def test_the_driver_hears_about_it_and_tries_again_in_the_new_window(failed, alice, dan):
    def choose():
        services.shipment_redelivery_request(
            shipment=failed,
            actor=alice,
            window_start=at(1, "10:00"),
            window_end=at(1, "12:00"),
            expected_version=failed.version,
        )

    frames = watch(broadcast.driver_group(dan.pk), choose)
    assert [f["message"]["seq"] for f in frames] == [failed.last_seq + 1]
    pushed = frames[0]["message"]["data"]
    assert pushed["status"] == Status.FAILED_ATTEMPT
    assert pushed["note"].startswith("New delivery time: ")
    assert pushed["version"] == failed.version + 1

    fresh = Shipment.objects.get(pk=failed.pk)
    moved = services.shipment_transition(
        shipment=fresh,
        to=Status.OUT_FOR_DELIVERY,
        actor=dan.user,
        expected_version=fresh.version,
    )
    assert moved.status == Status.OUT_FOR_DELIVERY
    assert moved.delivery_window_start == at(1, "10:00")


def test_another_customers_shipment_is_404(client, bob, failed):
    client.force_login(bob)
    assert client.get(page_url(failed)).status_code == 404
    assert client.post(page_url(failed), form(failed)).status_code == 404
    assert not redeliveries(failed).exists()


@pytest.mark.parametrize("status", [Status.OUT_FOR_DELIVERY, Status.DELIVERED])
def test_other_statuses_have_no_form_and_a_post_is_refused_clearly(logged_in, shipment_in, status):
    shipment = shipment_in(status)
    assert HEADING not in text(logged_in.get(page_url(shipment)))
    response = logged_in.post(page_url(shipment), form(shipment), follow=True)
    label = shipment.get_status_display().lower()
    assert (
        "A new delivery time can be chosen only after a failed delivery attempt; this "
        f"shipment is {label}."
    ) in text(response)
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert (fresh.version, fresh.last_seq) == (shipment.version, shipment.last_seq)


@pytest.mark.parametrize(
    ("days", "start", "end", "field", "message"),
    [
        (-1, "14:00", "16:00", "date", "The new delivery time must start in the future."),
        (0, "00:00", "00:30", "window_start", "The new delivery time must start in the future."),
        (61, "14:00", "16:00", "date", "We book at most 60 days ahead."),
        (1, "16:00", "14:00", "window_end", "The delivery window must end after it starts."),
        (1, "14:00", "14:00", "window_end", "The delivery window must end after it starts."),
    ],
)
def test_a_window_that_breaks_the_booking_rules_is_refused_beside_its_field(
    logged_in, failed, settings, days, start, end, field, message
):
    settings.DROPMATE_BOOKING_HORIZON_DAYS = 60
    response = logged_in.post(
        page_url(failed), form(failed, days=days, start=start, end=end, dropoff_instructions="x")
    )
    assert response.status_code == 200
    html = text(response)
    assert f'<p class="field-error" id="id_{field}_error" role="alert">{message}</p>' in html
    assert re.search(rf'id="id_{field}"[^>]*aria-describedby="id_{field}_error"', html) or (
        re.search(rf'aria-describedby="id_{field}_error"[^>]*id="id_{field}"', html)
    )
    assert 'aria-invalid="true"' in html
    # What was typed stays.
    assert f'value="{start}"' in html and re.search(r">\s*x</textarea>", html)
    fresh = Shipment.objects.get(pk=failed.pk)
    assert (fresh.version, fresh.dropoff_instructions) == (failed.version, "")
    assert not redeliveries(failed).exists()


def test_unparseable_and_too_long_input_is_refused_by_the_form(logged_in, failed):
    response = logged_in.post(
        page_url(failed),
        form(
            failed, version="", date="31/02/2030", window_start="", dropoff_instructions="y" * 501
        ),
    )
    html = text(response)
    assert "This page is out of date: reload it, then choose again." in html
    assert 'id="id_date_error" role="alert">Enter a valid date.' in html
    assert 'id="id_window_start_error" role="alert">This field is required.' in html
    assert 'id="id_dropoff_instructions_error" role="alert">Ensure this value has at most 500' in (
        html
    )
    assert not redeliveries(failed).exists()


def test_after_the_limit_the_page_sends_the_customer_to_support(logged_in, failed, settings):
    settings.DROPMATE_REDELIVERY_LIMIT = 2
    for days in (1, 2):
        version = Shipment.objects.get(pk=failed.pk).version
        logged_in.post(page_url(failed), form(failed, days=days, version=version))
    assert redeliveries(failed).count() == 2

    html = text(logged_in.get(page_url(failed)))
    assert "You have already chosen a new delivery time 2 times" in html
    assert "contact our support team" in html
    assert 'name="window_start"' not in html

    version = Shipment.objects.get(pk=failed.pk).version
    refused = logged_in.post(page_url(failed), form(failed, days=3, version=version), follow=True)
    assert "the most we can arrange online. Please contact our support team" in text(refused)
    assert redeliveries(failed).count() == 2
    assert Shipment.objects.get(pk=failed.pk).delivery_window_start == at(2, "14:00")


def test_a_stale_version_is_refused_and_nothing_changes(logged_in, failed, alice):
    services.shipment_redelivery_request(
        shipment=failed, actor=alice, window_start=at(2, "09:00"), window_end=at(2, "11:00")
    )
    # The page was loaded before that change: it still carries the old version.
    response = logged_in.post(page_url(failed), form(failed, days=3), follow=True)
    assert "This shipment changed while you were choosing" in text(response)
    fresh = Shipment.objects.get(pk=failed.pk)
    assert fresh.delivery_window_start == at(2, "09:00")
    assert redeliveries(failed).count() == 1


def test_a_double_submit_records_one_event(logged_in, failed):
    data = form(failed)
    first = logged_in.post(page_url(failed), data)
    second = logged_in.post(page_url(failed), data, follow=True)  # same page, same version
    assert first.status_code == 302
    assert "New delivery time saved" in text(second)
    assert redeliveries(failed).count() == 1
    fresh = Shipment.objects.get(pk=failed.pk)
    assert (fresh.version, fresh.last_seq) == (failed.version + 1, failed.last_seq + 1)


def test_a_new_failed_attempt_allows_the_same_window_again(failed, alice, dan):
    services.shipment_redelivery_request(
        shipment=failed, actor=alice, window_start=at(1, "14:00"), window_end=at(1, "16:00")
    )
    retried = services.shipment_transition(
        shipment=failed, to=Status.OUT_FOR_DELIVERY, actor=dan.user
    )
    services.shipment_transition(
        shipment=retried, to=Status.FAILED_ATTEMPT, actor=dan.user, reason="refused"
    )
    services.shipment_redelivery_request(
        shipment=failed, actor=alice, window_start=at(1, "14:00"), window_end=at(1, "16:00")
    )
    assert redeliveries(failed).count() == 2


def test_the_generic_transition_cannot_skip_the_window(failed, alice):
    with pytest.raises(Invalid) as info:
        services.shipment_transition(shipment=failed, to=Status.FAILED_ATTEMPT, actor=alice)
    assert info.value.details == {"field": "delivery_window_start"}
    assert not redeliveries(failed).exists()


def test_public_tracking_page_has_no_form(client, logged_in, failed, alice):
    services.shipment_redelivery_request(
        shipment=failed, actor=alice, window_start=at(1, "14:00"), window_end=at(1, "16:00")
    )
    for visitor in (client, logged_in):  # anonymous, and even the signed-in owner
        html = text(visitor.get(reverse("track", args=[failed.tracking_number])))
        assert "Failed attempt" in html
        assert HEADING not in html
        assert 'name="window_start"' not in html and 'name="version"' not in html
        assert f'action="{page_url(failed)}"' not in html
        assert "New delivery time" not in html


def test_failed_attempt_message_points_at_the_customers_shipment_page(failed, alice):
    page = settings.DROPMATE_BASE_URL.rstrip("/") + page_url(failed)
    rows = Notification.objects.filter(recipient=alice, event_key="failed_attempt")
    assert rows.exists()
    for row in rows:
        assert page in row.body
        assert "sign in" in row.body and "choose a new day and time" in row.body


def test_the_timeline_gives_the_failed_attempts_reason_in_words(client, alice, dan, dora):
    shipment = make_shipment(customer=alice, status=Status.OUT_FOR_DELIVERY, driver=dan, staff=dora)
    driver_job_move(
        driver=dan,
        shipment=shipment,
        to=Status.FAILED_ATTEMPT,
        reason="not_home",
        note="rang twice",
    )
    client.force_login(alice)
    page = client.get(reverse("customer-shipment", args=[shipment.tracking_number])).content
    assert "Failed attempt: Recipient not home — rang twice" in page.decode()
    assert b"not_home" not in page
