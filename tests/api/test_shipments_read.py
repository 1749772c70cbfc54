"""GET /api/v1/shipments (scoped, filtered, searched, paginated), GET /api/v1/shipments/{t}
and the public GET /api/v1/shipments/track/{t}."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from shipments.lifecycle import Status
from shipments.models import Shipment
from tests.api.conftest import booking_body, error_code
from tests.factories import make_shipment

URL = "/api/v1/shipments"


def numbers(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {s["tracking_number"] for s in response.json()["results"]}


@pytest.fixture
def fleet(alice, bob, dan, erin, dora):
    """alice: a draft, a pending and an assigned (dan) one; bob: one assigned to erin."""
    return {
        "alice_draft": make_shipment(customer=alice, status=Status.DRAFT),
        "alice_pending": make_shipment(
            customer=alice, status=Status.PENDING_REVIEW, service_level="express"
        ),
        "alice_dan": make_shipment(customer=alice, status=Status.ASSIGNED, driver=dan, staff=dora),
        "bob_erin": make_shipment(customer=bob, status=Status.IN_TRANSIT, driver=erin, staff=dora),
    }


def tn(*shipments) -> set[str]:
    return {s.tracking_number for s in shipments}


def test_each_role_lists_what_it_may_see(api, fleet):
    f = fleet
    assert numbers(api["alice"].get(URL)) == tn(
        f["alice_draft"], f["alice_pending"], f["alice_dan"]
    )
    assert numbers(api["bob"].get(URL)) == tn(f["bob_erin"])
    assert numbers(api["dan"].get(URL)) == tn(f["alice_dan"])
    assert numbers(api["erin"].get(URL)) == tn(f["bob_erin"])
    assert numbers(api["dora"].get(URL)) == tn(*f.values())
    assert numbers(api["ada"].get(URL)) == tn(*f.values())


def test_list_is_401_for_anonymous(api):
    response = api["anon"].get(URL)
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_filters_by_status_service_level_driver_and_dates(api, fleet, dan):
    f, staff = fleet, api["dora"]
    assert numbers(staff.get(URL, {"status": "assigned"})) == tn(f["alice_dan"])
    both = staff.get(f"{URL}?status=assigned&status=in_transit")
    assert numbers(both) == tn(f["alice_dan"], f["bob_erin"])
    assert numbers(staff.get(URL, {"service_level": "express"})) == tn(f["alice_pending"])
    assert numbers(staff.get(URL, {"driver": dan.pk})) == tn(f["alice_dan"])
    Shipment.objects.filter(pk=f["alice_draft"].pk).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    since = (timezone.now() - timedelta(days=1)).isoformat()
    recent = staff.get(URL, {"created_after": since})
    assert numbers(recent) == tn(f["alice_pending"], f["alice_dan"], f["bob_erin"])
    assert numbers(staff.get(URL, {"created_before": since})) == tn(f["alice_draft"])


def test_filters_never_widen_the_callers_scope(api, fleet, erin):
    assert numbers(api["alice"].get(URL, {"driver": erin.pk})) == set()
    assert numbers(api["dan"].get(URL, {"status": "in_transit"})) == set()


def test_search_by_tracking_number_in_any_spelling_or_part(api, fleet):
    target = fleet["alice_pending"].tracking_number
    sloppy = target.lower().replace("-", " ")
    assert numbers(api["alice"].get(URL, {"search": sloppy})) == {target}
    assert numbers(api["alice"].get(URL, {"search": target[-5:].lower()})) == {target}
    assert numbers(api["bob"].get(URL, {"search": target})) == set()


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "lost"}, "status"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"driver": "0"}, "driver"),
        ({"driver": "dan"}, "driver"),
        ({"service_level": "warp"}, "service_level"),
        ({"search": "x" * 41}, "search"),
    ],
)
def test_invalid_filters_are_400(api, params, field):
    response = api["dora"].get(URL, params)
    assert response.status_code == 400
    assert error_code(response) == "invalid"
    assert field in response.json()["error"]["details"]


def test_pagination_walks_every_item_once(api, alice):
    for _ in range(5):
        make_shipment(customer=alice)
    first = api["alice"].get(URL, {"page_size": 2})
    body = first.json()
    assert body["count"] == 5 and len(body["results"]) == 2 and body["previous"] is None
    seen = [s["tracking_number"] for s in body["results"]]
    while body["next"]:
        body = api["alice"].get(body["next"]).json()
        seen += [s["tracking_number"] for s in body["results"]]
    assert len(seen) == len(set(seen)) == 5
    assert seen == list(
        Shipment.objects.order_by("-created_at", "-pk").values_list("tracking_number", flat=True)
    )


def test_page_size_is_capped_and_pages_past_the_end_are_404(api, alice):
    make_shipment(customer=alice)
    assert len(api["alice"].get(URL, {"page_size": 1000}).json()["results"]) == 1
    response = api["alice"].get(URL, {"page": 9})
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_list_items_carry_money_and_utc_times(api, fleet):
    booked = api["alice"].post(URL, booking_body(), format="json").json()["tracking_number"]
    items = {s["tracking_number"]: s for s in api["alice"].get(URL).json()["results"]}
    assert items[booked]["price"]["currency"] == "EUR"
    assert items[booked]["price"]["amount"].count(".") == 1
    assert items[fleet["alice_draft"].tracking_number]["price"] is None
    item = items[fleet["alice_dan"].tracking_number]
    assert item["created_at"].endswith("Z")
    # A customer sees the driver's first name, not the fleet's internal id.
    assert item["driver"] == {"id": None, "first_name": "Dan"}


# --- detail -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "dan", "dora", "ada"])
def test_detail_for_those_who_may_see_it(api, fleet, who, dan):
    shipment = fleet["alice_dan"]
    response = api[who].get(f"{URL}/{shipment.tracking_number}")
    assert response.status_code == 200
    body = response.json()
    assert body["tracking_number"] == shipment.tracking_number
    assert body["version"] == shipment.version
    assert body["pickup"]["address"] == "Veldstraat 12"
    expected_id = None if who == "alice" else dan.pk
    assert body["driver"]["id"] == expected_id


@pytest.mark.parametrize("who", ["bob", "erin"])
def test_detail_of_another_users_shipment_is_404(api, fleet, who):
    response = api[who].get(f"{URL}/{fleet['alice_dan'].tracking_number}")
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_detail_of_unknown_or_malformed_number_is_404(api, fleet):
    assert api["dora"].get(f"{URL}/DM-00000-00000-00000").status_code == 404
    assert api["dora"].get(f"{URL}/nonsense").status_code == 404


def test_detail_accepts_a_sloppy_tracking_number(api, fleet):
    shipment = fleet["alice_pending"]
    response = api["alice"].get(f"{URL}/{shipment.tracking_number.lower()}")
    assert response.json()["tracking_number"] == shipment.tracking_number


def test_detail_lists_the_moves_the_caller_may_make(api, fleet):
    shipment = fleet["alice_pending"]
    staff = api["dora"].get(f"{URL}/{shipment.tracking_number}").json()
    customer = api["alice"].get(f"{URL}/{shipment.tracking_number}").json()
    assert {m["to"] for m in staff["allowed_transitions"]} == {"accepted", "rejected", "cancelled"}
    reject = next(m for m in staff["allowed_transitions"] if m["to"] == "rejected")
    assert reject["needs_reason"] is True
    assert {m["to"] for m in customer["allowed_transitions"]} == {"cancelled"}


# --- public tracking -----------------------------------------------------------------------------


def test_public_tracking_shows_only_public_fields(api, fleet):
    shipment = fleet["alice_dan"]
    response = api["anon"].get(f"{URL}/track/{shipment.tracking_number}")
    assert response.status_code == 200
    body = response.json()
    assert body["tracking_number"] == shipment.tracking_number
    assert body["status"] == "assigned"
    assert [e["status"] for e in body["timeline"]] == [
        "draft",
        "awaiting_payment",
        "pending_review",
        "accepted",
    ]
    assert body["timeline"][0]["at"].endswith("Z")
    assert body["area"] == {"city": "Ghent", "lat": 51.05, "lng": 3.72}
    text = response.content.decode()
    for secret in ("Pat Pickup", "+32470111111", "Veldstraat", "Kouter", "Dan", "Alice"):
        assert secret not in text


def test_public_tracking_hides_drafts_and_unknown_numbers(api, fleet):
    for number in (fleet["alice_draft"].tracking_number, "DM-00000-00000-00000", "junk"):
        response = api["anon"].get(f"{URL}/track/{number}")
        assert response.status_code == 404
        assert error_code(response) == "not_found"


def test_public_tracking_works_with_credentials_too(api, fleet):
    number = fleet["bob_erin"].tracking_number
    assert api["alice"].get(f"{URL}/track/{number}").status_code == 200


def test_timestamps_are_utc_whatever_the_site_time_zone(api, fleet, settings):
    settings.TIME_ZONE = "Pacific/Auckland"
    shipment = fleet["alice_pending"]
    body = api["alice"].get(f"{URL}/{shipment.tracking_number}").json()
    assert body["created_at"].endswith("Z")
    assert body["created_at"].startswith(
        shipment.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H")
    )
