"""Admin actions on shipments go through the lifecycle services; conflicts become messages."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from dropmate.accounts.models import Role
from shipments.lifecycle import Status
from shipments.models import PaymentState, Shipment, ShipmentEvent
from tests.factories import DriverFactory, UserFactory

CHANGELIST = "admin:shipments_shipment_changelist"


def act(client, action, shipments, **extra):
    data = {"action": action, "_selected_action": [s.pk for s in shipments], **extra}
    return client.post(reverse(CHANGELIST), data)


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_accept_captures_payment_and_records_the_dispatcher(paid, as_user, dora):
    shipment = paid()
    response = act(as_user(dora), "accept_selected", [shipment])
    assert response.status_code == 302
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.ACCEPTED
    assert fresh.payment_state == PaymentState.ON_DELIVERY
    event = fresh.events.order_by("-seq").first()
    assert (event.status, event.actor_id) == (Status.ACCEPTED, dora.pk)
    assert texts(response) == [f"Accepted: {shipment.tracking_number}."]


def test_accepting_an_already_accepted_shipment_is_a_message_not_an_error(
    paid, as_user, dora, shipment_in
):
    fresh, done = paid(), shipment_in(Status.ACCEPTED)
    response = act(as_user(dora), "accept_selected", [fresh, done])
    assert response.status_code == 302
    messages = texts(response)
    assert any(
        m.startswith(f"{done.tracking_number}: not accepted.") and "cannot become accepted" in m
        for m in messages
    ), messages
    assert f"Accepted: {fresh.tracking_number}." in messages
    assert Shipment.objects.get(pk=fresh.pk).status == Status.ACCEPTED


def test_stale_version_from_the_detail_page_is_refused_with_a_message(paid, as_user, dora, ada):
    shipment = paid()
    seen = shipment.version
    # Someone else accepts first.
    act(as_user(ada), "accept_selected", [shipment])
    client = as_user(dora)
    response = act(client, "cancel_selected", [shipment], expected_version=str(seen), apply="1")
    assert response.status_code == 302
    [message] = texts(response)
    assert "not cancelled" in message and "changed meanwhile" in message
    assert Shipment.objects.get(pk=shipment.pk).status == Status.ACCEPTED


def test_reject_asks_for_a_reason_then_releases(paid, as_user, dora):
    shipment = paid()
    client = as_user(dora)
    form = act(client, "reject_selected", [shipment])
    assert form.status_code == 200
    assert shipment.tracking_number in form.content.decode()
    blank = act(client, "reject_selected", [shipment], apply="1", reason="  ")
    assert blank.status_code == 200
    assert "This field is required" in blank.content.decode()
    assert Shipment.objects.get(pk=shipment.pk).status == Status.PENDING_REVIEW
    done = act(client, "reject_selected", [shipment], apply="1", reason="Outside our area")
    assert done.status_code == 302
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.REJECTED
    assert fresh.payment_state == PaymentState.CANCELED
    assert fresh.events.order_by("-seq").first().note == "Outside our area"


def test_assign_suggests_the_nearest_driver_and_reassigns(shipment_in, as_user, dora, dan):
    shipment = shipment_in(Status.ACCEPTED)  # pickup at 51.0520, 3.7215
    near = DriverFactory(user__first_name="Nina", last_lat=51.0521, last_lng=3.7216)
    DriverFactory(user__first_name="Faraway", last_lat=50.85, last_lng=4.35)
    client = as_user(dora)
    form = act(client, "assign_selected", [shipment])
    assert form.status_code == 200
    assert form.context["form"].initial["driver"] == near.pk
    assert "Nina" in form.content.decode()
    done = act(client, "assign_selected", [shipment], apply="1", driver=str(near.pk))
    assert done.status_code == 302
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert (fresh.status, fresh.driver_id) == (Status.ASSIGNED, near.pk)
    again = act(client, "assign_selected", [shipment], apply="1", driver=str(dan.pk))
    assert again.status_code == 302
    assert Shipment.objects.get(pk=shipment.pk).driver_id == dan.pk
    kinds = list(fresh.events.filter(kind=ShipmentEvent.Kind.ASSIGNMENT).values_list("status"))
    assert len(kinds) == 2


def test_cancel_refunds_through_the_service(shipment_in, as_user, ada):
    shipment = shipment_in(Status.ASSIGNED)
    # As if accepted with a captured payment: the gateway's refund decides the new state.
    Shipment.objects.filter(pk=shipment.pk).update(payment_state=PaymentState.CAPTURED)
    client = as_user(ada)
    confirm = act(client, "cancel_selected", [shipment])
    assert confirm.status_code == 200
    done = act(client, "cancel_selected", [shipment], apply="1", reason="Customer called")
    assert done.status_code == 302
    fresh = Shipment.objects.get(pk=shipment.pk)
    assert fresh.status == Status.CANCELLED
    assert fresh.payment_state == PaymentState.CANCELED
    on_road = shipment_in(Status.IN_TRANSIT)
    refused = act(client, "cancel_selected", [on_road], apply="1")
    assert "cannot become cancelled" in texts(refused)[-1]
    assert Shipment.objects.get(pk=on_road.pk).status == Status.IN_TRANSIT


def test_export_csv_has_one_row_per_selected_shipment(shipment_in, paid, as_user, dora, alice):
    a = shipment_in(Status.ASSIGNED, reference="PO-1")
    b = paid(dropoff_address="=HYPERLINK(evil)")
    shipment_in(Status.DELIVERED)  # not selected
    response = act(as_user(dora), "export_csv", [a, b])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["tracking_number"] for r in rows] == [a.tracking_number, b.tracking_number]
    assert rows[0]["status"] == "assigned"
    assert rows[0]["driver"] == "dan@dropmate.local"
    assert rows[0]["customer_email"] == alice.email
    assert rows[0]["customer_phone"] == alice.phone  # a phone number stays a phone number
    assert rows[1]["status"] == "pending_review"
    assert rows[1]["dropoff_address"] == "'=HYPERLINK(evil)"
    assert rows[1]["price"] == ""


def test_actions_need_their_permission(paid, as_user):
    """A staff member with view access only sees no actions and cannot run one."""
    viewer = UserFactory(role=Role.CUSTOMER, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_shipment"))
    shipment = paid()

    def offered(client):
        listing = client.get(reverse(CHANGELIST))
        assert listing.status_code == 200
        return set(listing.context["cl"].model_admin.get_actions(listing.wsgi_request))

    client = as_user(viewer)
    assert offered(client) == set()
    act(client, "accept_selected", [shipment])
    assert not act(client, "export_csv", [shipment])["Content-Type"].startswith("text/csv")
    assert Shipment.objects.get(pk=shipment.pk).status == Status.PENDING_REVIEW

    viewer.user_permissions.add(Permission.objects.get(codename="export_shipment"))
    client = as_user(viewer)
    assert offered(client) == {"export_csv"}
    assert act(client, "export_csv", [shipment])["Content-Type"].startswith("text/csv")
    act(client, "accept_selected", [shipment])
    assert Shipment.objects.get(pk=shipment.pk).status == Status.PENDING_REVIEW


def test_dispatchers_are_offered_every_action(as_user, dora, paid):
    paid()
    listing = as_user(dora).get(reverse(CHANGELIST))
    assert set(listing.context["cl"].model_admin.get_actions(listing.wsgi_request)) == {
        "accept_selected",
        "reject_selected",
        "assign_selected",
        "cancel_selected",
        "new_handover_pin",
        "plan_routes_now",
        "export_csv",
    }


def test_changelist_filters_and_search(shipment_in, paid, as_user, dora, dan):
    late = paid(delivery_window_start=None, delivery_window_end=None)
    Shipment.objects.filter(pk=late.pk).update(
        delivery_window_start="2020-01-01T10:00Z", delivery_window_end="2020-01-01T12:00Z"
    )
    on_time = shipment_in(Status.ASSIGNED)
    client = as_user(dora)
    url = reverse(CHANGELIST)

    def found(query):
        return {s.pk for s in client.get(url + query).context["cl"].result_list}

    assert found("?late=yes") == {late.pk}
    assert on_time.pk in found("?late=no")
    assert found(f"?q={on_time.tracking_number}") == {on_time.pk}
    assert found(f"?driver__id__exact={dan.pk}") == {on_time.pk}
    assert found("?status__exact=pending_review") == {late.pk}
    assert found("?created_from=2000-01-01&created_to=2000-01-02") == set()
    assert {late.pk, on_time.pk} <= found("?created_from=2000-01-01")
    page = client.get(url).content.decode()
    assert 'class="dm-badge dm-status-assigned"' in page
    assert "dm-late" in page


def test_change_page_offers_only_the_moves_the_status_allows(paid, as_user, dora):
    shipment = paid()
    page = as_user(dora).get(reverse("admin:shipments_shipment_change", args=[shipment.pk]))
    actions = [a for a, _ in page.context["dm_actions"]]
    assert actions == ["accept_selected", "reject_selected", "cancel_selected"]
    assert f'name="expected_version" value="{shipment.version}"' in page.content.decode()


@pytest.mark.parametrize("who", ["dora", "ada"])
def test_driver_message_added_in_admin_goes_through_the_service(who, as_user, request, dan):
    from drivers.models import DriverMessage

    client = as_user(request.getfixturevalue(who))
    response = client.post(
        reverse("admin:drivers_drivermessage_add"), {"driver": dan.pk, "body": " Call me "}
    )
    assert response.status_code == 302
    message = DriverMessage.objects.get()
    assert message.body == "Call me"
    assert message.sender == request.getfixturevalue(who)
