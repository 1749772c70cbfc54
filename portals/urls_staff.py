"""Routes of the staff portal (included by portals/urls.py)."""

from django.urls import path

from portals.views import staff
from portals.views.fleet import fleet_map

urlpatterns: list = [
    path("", staff.console, name="staff-console"),
    path("console/panel/", staff.console_panel, name="staff-console-panel"),
    path("console/accept/", staff.console_accept, name="staff-console-accept"),
    path("console/reject/", staff.console_reject, name="staff-console-reject"),
    path("console/assign/", staff.console_assign, name="staff-console-assign"),
    path("console/message/", staff.console_message, name="staff-console-message"),
    path("console/plan/", staff.console_plan, name="staff-console-plan"),
    path("analytics/", staff.analytics_page, name="staff-analytics"),
    path("analytics/<slug:key>.csv", staff.analytics_csv, name="staff-analytics-csv"),
    path("fleet/", fleet_map, name="staff-fleet"),
]
