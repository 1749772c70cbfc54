"""The staff fleet map: every on-duty driver coloured by state, filtered by state, moving
live over /ws/fleet/."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dropmate.lib.decorators import staff_required
from tracking.selectors import fleet_snapshot


@staff_required
def fleet_map(request: HttpRequest) -> HttpResponse:
    snapshot = fleet_snapshot(user=request.user)
    states = [
        ("delivering", "Delivering"),
        ("to_pickup", "To pickup"),
        ("idle", "Idle"),
        ("no_signal", "No signal"),
    ]
    return render(
        request,
        "portals/staff/fleet.html",
        {"snapshot": snapshot, "states": states, "driver_count": len(snapshot["drivers"])},
    )
