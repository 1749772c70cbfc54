"""Every admin changelist and change page loads with data for the roles that may see it and is
refused for the others. Dispatchers look at pricing and users but cannot change them."""

import pytest
from django.urls import reverse

from drivers.models import DriverMessage, Vehicle
from dropmate.accounts.models import User
from notifications.models import Notification
from shipments.lifecycle import Status
from shipments.models import PricingRule, ProofOfDelivery, ShipmentEvent
from tracking.models import LocationFix

MODELS = [
    "shipments.shipment",
    "shipments.shipmentevent",
    "shipments.proofofdelivery",
    "shipments.pricingrule",
    "drivers.driver",
    "drivers.vehicle",
    "drivers.drivermessage",
    "tracking.locationfix",
    "notifications.notification",
    "accounts.user",
]


@pytest.fixture
def objects(shipment_in, dan, dora, alice):
    """One row of every model the back office shows, keyed by admin label."""
    from django.utils import timezone

    delivered = shipment_in(Status.DELIVERED)
    pod = ProofOfDelivery.objects.create(
        shipment=delivered, recipient_name="Dee", captured_at=timezone.now(), lat=51.05, lng=3.72
    )
    fix = LocationFix.objects.create(
        driver=dan,
        shipment=delivered,
        client_id="8f14e45f-ceea-467f-a0e6-5e4b7a7d3f11",
        device_time=timezone.now(),
        received_at=timezone.now(),
        lat=51.05,
        lng=3.72,
        accuracy_m=8,
    )
    note = Notification.objects.create(
        recipient=alice,
        shipment=delivered,
        channel="email",
        event_key="delivered",
        idempotency_key=f"delivered:{delivered.pk}",
    )
    rule = PricingRule.objects.create(name="City", active=True)
    message = DriverMessage.objects.create(driver=dan, sender=dora, body="Call the office")
    return {
        "shipments.shipment": delivered,
        "shipments.shipmentevent": ShipmentEvent.objects.filter(shipment=delivered).first(),
        "shipments.proofofdelivery": pod,
        "shipments.pricingrule": rule,
        "drivers.driver": dan,
        "drivers.vehicle": Vehicle.objects.get(driver=dan),
        "drivers.drivermessage": message,
        "tracking.locationfix": fix,
        "notifications.notification": note,
        "accounts.user": alice,
    }


def _urls(label, obj):
    app, model = label.split(".")
    return (
        reverse(f"admin:{app}_{model}_changelist"),
        reverse(f"admin:{app}_{model}_change", args=[obj.pk]),
    )


@pytest.mark.parametrize("label", MODELS)
@pytest.mark.parametrize("who", ["dora", "adele", "ada"])
def test_staff_roles_see_every_changelist_and_change_page_with_data(
    label, who, objects, as_user, request
):
    client = as_user(request.getfixturevalue(who))
    changelist, change = _urls(label, objects[label])
    listing = client.get(changelist)
    assert listing.status_code == 200, label
    assert listing.context["cl"].result_count >= 1
    detail = client.get(change)
    assert detail.status_code == 200, label


@pytest.mark.parametrize("label", MODELS)
@pytest.mark.parametrize("who", ["alice", "dan"])
def test_customers_and_drivers_are_sent_to_the_admin_login(label, who, objects, as_user, request):
    persona = request.getfixturevalue(who)
    client = as_user(persona if isinstance(persona, User) else persona.user)
    for url in _urls(label, objects[label]):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]


def test_dispatcher_cannot_edit_pricing_users_or_notifications(objects, as_user, dora):
    client = as_user(dora)
    rule = objects["shipments.pricingrule"]
    change = reverse("admin:shipments_pricingrule_change", args=[rule.pk])
    page = client.get(change)
    assert page.context["has_change_permission"] is False
    refused = client.post(change, {"name": "Cheap", "base_fee": "0.00"})
    assert refused.status_code == 403
    rule.refresh_from_db()
    assert rule.name == "City"
    assert client.get(reverse("admin:shipments_pricingrule_add")).status_code == 403
    alice = objects["accounts.user"]
    user_change = reverse("admin:accounts_user_change", args=[alice.pk])
    assert client.post(user_change, {"email": "x@example.com"}).status_code == 403
    assert client.get(reverse("admin:accounts_user_add")).status_code == 403
    assert (
        client.post(
            reverse("admin:accounts_user_delete", args=[alice.pk]), {"post": "yes"}
        ).status_code
        == 403
    )


def test_dispatcher_may_change_a_driver_and_add_a_vehicle(objects, as_user, dora):
    client = as_user(dora)
    response = client.post(
        reverse("admin:drivers_vehicle_add"),
        {
            "name": "Van 9",
            "kind": "van",
            "plate": "1-NEW-009",
            "capacity_kg": "600",
            "capacity_parcels": "30",
            "active": "on",
        },
    )
    assert response.status_code == 302
    assert Vehicle.objects.filter(plate="1-NEW-009").exists()


def test_admin_role_edits_pricing_and_one_rule_stays_active(objects, as_user, adele):
    client = as_user(adele)
    old = objects["shipments.pricingrule"]
    data = {
        "name": "Winter",
        "active": "on",
        "currency": "EUR",
        "base_fee": "5.00",
        "per_km": "1.30",
        "road_factor": "1.30",
        "included_kg": "5.00",
        "per_kg_over": "0.50",
        "surcharge_medium": "1.00",
        "surcharge_large": "3.00",
        "surcharge_xlarge": "6.00",
        "multiplier_express": "1.50",
        "multiplier_same_day": "2.00",
        "minimum_fare": "6.00",
        "rounding_step": "0.10",
    }
    response = client.post(reverse("admin:shipments_pricingrule_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(PricingRule.objects.filter(active=True).values_list("name", flat=True)) == [
        "Winter"
    ]
    old.refresh_from_db()
    assert old.active is False


def test_status_is_read_only_on_the_shipment_form(objects, as_user, ada):
    client = as_user(ada)
    shipment = objects["shipments.shipment"]
    url = reverse("admin:shipments_shipment_change", args=[shipment.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    for name in ("status", "payment_state", "price", "driver", "version"):
        assert name not in form.fields
    events = shipment.events.count()
    response = client.post(
        url,
        {
            "reference": "PO-9",
            "status": Status.CANCELLED,
            "events-TOTAL_FORMS": str(events),
            "events-INITIAL_FORMS": str(events),
        },
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    shipment.refresh_from_db()
    assert shipment.reference == "PO-9"
    assert shipment.status == Status.DELIVERED


def test_shipment_detail_shows_timeline_pod_positions_and_notifications(objects, as_user, dora):
    client = as_user(dora)
    shipment = objects["shipments.shipment"]
    html = client.get(reverse("admin:shipments_shipment_change", args=[shipment.pk])).content
    html = html.decode()
    assert "Received by <strong>Dee</strong>" in html
    assert "51.05000, 3.72000" in html
    assert "delivered" in html and "Email" in html
    assert html.count('class="field-status"') >= 1 or "Out for delivery" in html


def test_driver_list_shows_current_load(shipment_in, as_user, dora, dan):
    shipment_in(Status.ASSIGNED)
    shipment_in(Status.IN_TRANSIT)
    shipment_in(Status.DELIVERED)
    client = as_user(dora)
    response = client.get(reverse("admin:drivers_driver_changelist"))
    row = next(r for r in response.context["cl"].result_list if r.pk == dan.pk)
    assert row.current_load == 2
    assert "2 / 20" in response.content.decode()
