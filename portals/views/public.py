"""Public pages: home and tracking by number. Tracking shows only what
`shipments.selectors.shipment_public_view` allows, is rate-limited per client address in the
shared cache, and answers an unknown and a malformed number with the same 404 page."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from dropmate.lib.ratelimit import client_address, rate_limit_hit
from portals.forms.customer import TrackForm
from shipments import tracking_numbers
from shipments.selectors import shipment_get_public, shipment_public_view


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portals/public/home.html", {"track_form": TrackForm()})


def _limited(request: HttpRequest) -> HttpResponse | None:
    if rate_limit_hit(
        scope="track",
        key=client_address(request),
        limit=settings.PUBLIC_TRACKING_RATE_LIMIT,
        window_seconds=settings.PUBLIC_TRACKING_RATE_WINDOW,
    ):
        response = render(request, "portals/public/track_limited.html", status=429)
        response["Retry-After"] = str(settings.PUBLIC_TRACKING_RATE_WINDOW)
        return response
    return None


@require_GET
def track_search(request: HttpRequest) -> HttpResponse:
    form = TrackForm(request.GET or None)
    if form.is_valid():
        # Never echo or judge the number here: the result page answers alike for all.
        number = tracking_numbers.normalize(form.cleaned_data["number"])
        return redirect("track", tracking=number or "unknown")
    return render(request, "portals/public/track_form.html", {"form": form})


@require_GET
def track(request: HttpRequest, tracking: str) -> HttpResponse:
    if (limited := _limited(request)) is not None:
        return limited
    shipment = shipment_get_public(tracking_number=tracking)
    if shipment is None:
        return render(
            request,
            "portals/public/track_form.html",
            {"form": TrackForm(), "not_found": True},
            status=404,
        )
    view = shipment_public_view(shipment=shipment)
    template = "portals/public/track.html"
    if request.headers.get("HX-Request"):
        template += "#status"
    return render(request, template, {"track": view, "form": TrackForm()})
