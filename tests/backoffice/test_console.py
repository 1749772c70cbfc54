"""The dispatch console: queues, one-click accept/reject, assigning with the version the
dispatcher saw, suggestions, messages to drivers."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from drivers.models import Driver, DriverMessage
from shipments import dispatch
from shipments.lifecycle import Status
from shipments.models import Shipment, ShipmentEvent
from tests.factories import DriverFactory, VehicleFactory, make_shipment

HTMX = {"HTTP_HX_REQUEST": "true"}


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_console_lists_the_three_queues_and_drivers(shipment_in, paid, as_user, dora, dan):
    review = paid()
    waiting = shipment_in(Status.ACCEPTED)
    late = shipment_in(Status.ASSIGNED)
    Shipment.objects.filter(pk=late.pk).update(
        delivery_window_start=timezone.now() - timedelta(hours=3),
        delivery_window_end=timezone.now() - timedelta(minutes=5),
    )
    page = as_user(dora).get(reverse("staff-console"))
    assert page.status_code == 200
    ctx = page.context
    assert [s.pk for s in ctx["review"]] == [review.pk]
    assert [s.pk for s, _ in ctx["unassigned"]] == [waiting.pk]
    assert [s.pk for s in ctx["at_risk"]] == [late.pk]
    assert [d.pk for d, _ in ctx["drivers"]] == [dan.pk]
    html = page.content.decode()
    assert f'data-tracking="{review.tracking_number}" data-version="{review.version}"' in html
    assert f"Pickup {late.pickup_address}" in html  # dan's next stop


def test_empty_console_says_so(as_user, dora):
    html = as_user(dora).get(reverse("staff-console")).content.decode()
    assert "Nothing waiting for review." in html
    assert "No driver is on duty." in html


@pytest.mark.parametrize("who", ["alice", "dan"])
def test_console_is_not_found_for_customers_and_drivers(who, as_user, request, paid):
    shipment = paid()
    persona = request.getfixturevalue(who)
    client = as_user(getattr(persona, "user", persona))
    assert client.get(reverse("staff-console")).status_code == 404
    data = {"tracking_number": shipment.tracking_number, "version": shipment.version}
    assert client.post(reverse("staff-console-accept"), data).status_code == 404
    assert Shipment.objects.get(pk=shipment.pk).status == Status.PENDING_REVIEW


def test_anonymous_visitors_go_to_login(client):
    response = client.get(reverse("staff-console"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_one_click_accept_returns_the_refreshed_panel(paid, as_user, dora):
    shipment = paid()
    response = as_user(dora).post(
        reverse("staff-console-accept"),
        {"tracking_number": shipment.tracking_number, "version": shipment.version},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{shipment.tracking_number} accepted." in html
    assert "<html" not in html  # a fragment
    assert Shipment.objects.get(pk=shipment.pk).status == Status.ACCEPTED
    # Now in the unassigned queue, with the new version.
    assert f'value="{shipment.tracking_number}@{shipment.version + 1}"' in html


def test_reject_with_a_reason_and_without_js(paid, as_user, dora):
    shipment = paid()
    client = as_user(dora)
    response = client.post(
        reverse("staff-console-reject"),
        {
            "tracking_number": shipment.tracking_number,
            "version": shipment.version,
            "reason": "Item not allowed",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("staff-console")
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.REJECTED
    assert fresh.events.order_by("-seq").first().note == "Item not allowed"
    blank = client.post(
        reverse("staff-console-reject"),
        {"tracking_number": shipment.tracking_number, "version": fresh.version, "reason": ""},
    )
    assert "This field is required." in texts(blank)


def test_accepting_what_someone_else_changed_is_a_conflict_message(paid, as_user, dora, ada):
    shipment = paid()
    seen = shipment.version
    as_user(ada).post(
        reverse("staff-console-reject"),
        {"tracking_number": shipment.tracking_number, "version": seen, "reason": "No"},
    )
    response = as_user(dora).post(
        reverse("staff-console-accept"),
        {"tracking_number": shipment.tracking_number, "version": seen},
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "changed meanwhile" in html and 'role="alert"' in html
    assert Shipment.objects.get(pk=shipment.pk).status == Status.REJECTED


def test_assigning_with_the_seen_version_then_a_stale_one(shipment_in, as_user, dora, ada, dan):
    shipment = shipment_in(Status.ACCEPTED)
    erin = DriverFactory(user__first_name="Erin")
    choice = f"{shipment.tracking_number}@{shipment.version}"
    first = as_user(dora).post(
        reverse("staff-console-assign"), {"shipments": [choice], "driver": dan.pk}
    )
    assert f"{shipment.tracking_number} assigned to {dan}." in texts(first)
    second = as_user(ada).post(
        reverse("staff-console-assign"), {"shipments": [choice], "driver": erin.pk}
    )
    [message] = texts(second)
    assert message.startswith(shipment.tracking_number) and "changed meanwhile" in message
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.driver_id == dan.pk
    assert fresh.events.filter(kind=ShipmentEvent.Kind.ASSIGNMENT).count() == 1


def test_assign_needs_a_selection_and_a_driver(as_user, dora):
    client = as_user(dora)
    response = client.post(reverse("staff-console-assign"), {"driver": ""})
    assert set(texts(response)) == {"Select at least one shipment.", "Choose a driver."}
    forged = client.post(
        reverse("staff-console-assign"), {"shipments": ["DM-XXXXX@1"], "driver": "999"}
    )
    assert "Choose a driver." in texts(forged)


def test_several_selected_shipments_are_assigned_together(shipment_in, as_user, dora, dan):
    a, b = shipment_in(Status.ACCEPTED), shipment_in(Status.ACCEPTED)
    as_user(dora).post(
        reverse("staff-console-assign"),
        {
            "shipments": [f"{a.tracking_number}@{a.version}", f"{b.tracking_number}@{b.version}"],
            "driver": dan.pk,
        },
        **HTMX,
    )
    assert set(Shipment.objects.filter(pk__in=[a.pk, b.pk]).values_list("driver", flat=True)) == {
        dan.pk
    }


def test_suggestion_is_the_nearest_on_duty_driver_with_room(shipment_in, alice, dora, dan):
    shipment = shipment_in(Status.ACCEPTED)  # pickup 51.0520, 3.7215
    near_but_full = DriverFactory(
        last_lat=51.0520, last_lng=3.7215, vehicle=VehicleFactory(capacity_parcels=1)
    )
    make_shipment(customer=alice, status=Status.ASSIGNED, driver=near_but_full, staff=dora)
    DriverFactory(last_lat=51.0521, last_lng=3.7216, on_duty=False)  # off duty
    heavy = DriverFactory(last_lat=51.0522, last_lng=3.7215, vehicle=VehicleFactory(capacity_kg=1))
    nearest_free = DriverFactory(last_lat=51.06, last_lng=3.73)
    DriverFactory(last_lat=51.2, last_lng=4.4)  # far away
    # dan has no position at all: only suggested when nobody else fits.
    suggestion = dispatch.driver_suggest(shipment=Shipment.objects.get(pk=shipment.pk))
    assert suggestion.driver.pk == nearest_free.pk, suggestion
    assert 0.5 < suggestion.distance_km < 1.5
    assert heavy.pk != suggestion.driver.pk


def test_no_suggestion_when_nobody_fits(shipment_in, dan):
    shipment = shipment_in(Status.ACCEPTED)
    type(dan).objects.update(on_duty=False)
    assert dispatch.driver_suggest(shipment=shipment) is None


def test_message_to_a_driver_is_stored_and_confirmed(
    as_user, dora, dan, django_capture_on_commit_callbacks
):
    client = as_user(dora)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("staff-console-message"), {"driver": dan.pk, "body": "Gate code 4411"}, **HTMX
        )
    assert response.status_code == 200
    assert f"Message sent to {dan}." in response.content.decode()
    message = DriverMessage.objects.get()
    assert (message.driver_id, message.sender_id, message.body) == (
        dan.pk,
        dora.pk,
        "Gate code 4411",
    )
    assert len(callbacks) == 1  # the push to the driver's devices waits for the commit


def test_an_empty_or_long_message_is_refused(as_user, dora, dan):
    client = as_user(dora)
    empty = client.post(reverse("staff-console-message"), {"driver": dan.pk, "body": "  "}, **HTMX)
    assert 'role="alert"' in empty.content.decode()
    assert "Write a message." in empty.content.decode()
    long = client.post(reverse("staff-console-message"), {"driver": dan.pk, "body": "x" * 501})
    assert any("at most 500" in m for m in texts(long))
    assert not DriverMessage.objects.exists()


def test_message_service_refuses_non_staff(dan, alice):
    from drivers.messaging import driver_message_send
    from dropmate.lib.exceptions import NotAllowed

    with pytest.raises(NotAllowed):
        driver_message_send(driver=dan, sender=alice, body="hi")


def test_a_job_due_today_held_by_an_off_duty_driver_is_at_risk(shipment_in, as_user, dora, dan):
    now = timezone.now()
    today = shipment_in(Status.ASSIGNED)
    tomorrow = shipment_in(Status.ASSIGNED)
    carried = shipment_in(Status.PICKED_UP)
    start = timezone.localtime(now).replace(hour=0, minute=0) + timedelta(days=1, hours=10)
    Shipment.objects.filter(pk=tomorrow.pk).update(
        delivery_window_start=start, delivery_window_end=start + timedelta(hours=2)
    )
    Shipment.objects.filter(pk__in=[today.pk, carried.pk]).update(
        delivery_window_start=None, delivery_window_end=None
    )
    Driver.objects.filter(pk=dan.pk).update(on_duty=True, last_fix_at=now)
    client = as_user(dora)
    assert list(client.get(reverse("staff-console")).context["at_risk"]) == []
    Driver.objects.filter(pk=dan.pk).update(on_duty=False)
    page = client.get(reverse("staff-console"))
    assert {s.pk for s in page.context["at_risk"]} == {today.pk, carried.pk}
    assert "(off duty: reassign)" in page.content.decode()
