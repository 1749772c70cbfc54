"""Helpers for the Stripe tests: a card confirmed the way Stripe.js would, and webhook events
signed exactly as Stripe signs them (HMAC-SHA256 of "<timestamp>.<raw body>")."""

import hashlib
import hmac
import json
import time
import uuid

import stripe
from django.conf import settings

from tests.customer.conftest import WEBHOOK_SECRET

WEBHOOK_PATH = "/payments/stripe/webhook/"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # localstripe declines this one at charge time


def stripe_client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE}
    )


def confirm_card(intent_id: str, number: str = GOOD_CARD) -> dict:
    """What Stripe Elements does in the page: attach a card and confirm the intent.
    Returns the intent (a declined card raises stripe.CardError, as the real API does)."""
    client = stripe_client()
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    client.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
    return client.v1.payment_intents.confirm(intent_id).to_dict()


def intent(intent_id: str) -> dict:
    return stripe_client().v1.payment_intents.retrieve(intent_id).to_dict()


def event(type_: str, obj: dict, *, created: int | None = None, event_id: str = "") -> dict:
    return {
        "id": event_id or f"evt_test_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": type_,
        "created": int(created if created is not None else time.time()),
        "data": {"object": obj},
    }


def sign(body: str, *, timestamp: int | None = None, secret: str = WEBHOOK_SECRET) -> str:
    ts = int(timestamp if timestamp is not None else time.time())
    mac = hmac.new(secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def deliver(client, payload: dict, **sign_kwargs):
    """POST a signed event to the webhook through the Django test client."""
    body = json.dumps(payload)
    return client.post(
        WEBHOOK_PATH,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, **sign_kwargs),
    )
