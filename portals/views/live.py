"""The full-screen live page /live/<tracking>/ for the shipment's customer, its driver and
staff. Anyone else gets 404."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from dropmate.lib.exceptions import NotFound
from shipments.selectors import shipment_get_for_user


@login_required
def live_page(request: HttpRequest, tracking: str) -> HttpResponse:
    try:
        shipment = shipment_get_for_user(user=request.user, tracking_number=tracking)
    except NotFound:
        raise Http404("No such shipment.") from None
    return render(request, "portals/shared/live_page.html", {"shipment": shipment})
