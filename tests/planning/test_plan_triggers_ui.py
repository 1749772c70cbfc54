"""Planning from the dispatch console and the admin: the plan is written, explained, shown."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from drivers.models import Route
from shipments.lifecycle import Status
from tests.planning.conftest import today_at


@pytest.fixture(autouse=True)
def _morning(settings, planner_clock, dan):
    # "Plan now" plans today from the current time: the planner's clock is pinned at 09:00
    # today, early in the working day, so the test passes at any hour. (A day opened
    # 00:00-23:59 on the real clock still failed from about 23:55 UTC.) dan needs a
    # starting position.
    settings.PLANNING_DAY_START, settings.PLANNING_DAY_END = "08:00", "20:00"
    planner_clock(today_at(9))
    dan.home_lat, dan.home_lng = 51.05, 3.72
    dan.save(update_fields=["home_lat", "home_lng"])


@pytest.fixture
def accepted(shipment_in):
    no_windows = {
        "pickup_window_start": None,
        "pickup_window_end": None,
        "delivery_window_start": None,
        "delivery_window_end": None,
    }
    return [shipment_in(Status.ACCEPTED, **no_windows) for _ in range(2)]


def test_console_plan_button_plans_and_shows_routes_with_explanations(client, dora, dan, accepted):
    client.force_login(dora)
    response = client.post(reverse("staff-console-plan"), follow=True)
    assert response.status_code == 200
    routes = Route.objects.all()
    assert routes.exists()
    page = response.content.decode()
    stops = [stop for route in routes for stop in route.stops.all()]
    assert {s.shipment.tracking_number for s in stops} == {s.tracking_number for s in accepted}
    for shipment in accepted:
        assert shipment.tracking_number in page
    assert any(stop.explanation for stop in stops)
    assert escape(stops[0].explanation) in page


def test_console_plan_button_is_not_for_customers(client, alice, accepted):
    client.force_login(alice)
    assert client.post(reverse("staff-console-plan")).status_code == 404
    assert not Route.objects.exists()


def test_admin_plan_now_action_plans_the_day(client, ada, dan, accepted):
    client.force_login(ada)
    response = client.post(
        reverse("admin:shipments_shipment_changelist"),
        {"action": "plan_routes_now", "_selected_action": [accepted[0].pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Route.objects.filter(driver=dan).exists()
    messages = [str(m) for m in response.context["messages"]]
    assert messages and "plan" in messages[0].lower()
