"""{% live_tracking shipment %}: the live map, status and connection indicator for a
shipment, as the requesting user may see it (renders portals/shared/live_tracking.html)."""

from django import template
from django.conf import settings
from django.urls import reverse

from shipments.models import Shipment
from tracking import selectors

register = template.Library()


def live_context(*, shipment: Shipment, user, fullscreen: bool = False) -> dict:
    """The context portals/shared/live_tracking.html documents."""
    snapshot = selectors.shipment_snapshot(shipment=shipment, user=user)
    return {
        "shipment": shipment,
        "live_snapshot": snapshot,
        "live_fullscreen": fullscreen,
        "live_config": {
            "path": f"/ws/shipments/{shipment.tracking_number}/",
            "eventsUrl": reverse("api-shipment-events", args=[shipment.tracking_number]),
            "lastSeq": snapshot["last_seq"],
            "snapshot": snapshot,
            "tileUrl": settings.DROPMATE_MAP_TILE_URL,
            "staleAfterS": settings.TRACKING_STALE_FIX_S,
        },
    }


@register.inclusion_tag("portals/shared/live_tracking.html", takes_context=True)
def live_tracking(context, shipment: Shipment, fullscreen: bool = False) -> dict:
    return live_context(shipment=shipment, user=context["request"].user, fullscreen=fullscreen)
