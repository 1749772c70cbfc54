"""The Stripe webhook: the one CSRF-exempt view. It trusts nothing but a valid signature
computed over the raw body; then `payments.payment_event_apply` records the event id once."""

import json
import logging

import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shipments.payments import payment_event_apply

log = logging.getLogger(__name__)


@csrf_exempt  # Stripe cannot send a CSRF token; the signature authenticates the request.
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return HttpResponse(status=404)
    payload = request.body
    try:
        stripe.WebhookSignature.verify_header(
            payload,
            request.headers.get("Stripe-Signature", ""),
            secret,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
        log.warning("rejected a Stripe webhook with a bad or expired signature")
        return HttpResponse("Invalid signature.", status=400, content_type="text/plain")
    if not isinstance(event, dict):
        return HttpResponse("Invalid event.", status=400, content_type="text/plain")
    payment_event_apply(event=event)
    return HttpResponse(status=200)
