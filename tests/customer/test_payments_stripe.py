"""The card path against localstripe (a Stripe stand-in over HTTP) with the real stripe SDK.

localstripe sends no `amount_capturable_updated`, `canceled` or `charge.refunded` events; where
a test needs one, it builds the event from the intent as localstripe reports it and signs it
with the webhook secret exactly as Stripe does. Capture events are delivered by localstripe
itself to a live server."""

import json
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dropmate.lib.exceptions import InvalidTransition
from shipments import booking, services
from shipments.lifecycle import Status
from shipments.models import PaymentEvent, PaymentMethod, PaymentState, Shipment
from shipments.payments import amount_minor
from shipments.pricing import shipment_quote
from shipments.tasks import payments_reconcile_task
from tests.customer import stripe_helpers as sh
from tests.customer.conftest import register_webhook
from tests.factories import make_shipment
from tests.realservices import require_postgres

pytestmark = pytest.mark.services


def book_by_card(customer) -> Shipment:
    draft = make_shipment(customer=customer)
    shipment_quote(shipment=draft, actor=customer)
    result = booking.booking_book(shipment=draft, actor=customer, payment_method="card")
    assert result.next == "pay" and result.client_secret
    return Shipment.objects.get(pk=draft.pk)


def authorised(customer, client) -> Shipment:
    shipment = book_by_card(customer)
    pi = sh.confirm_card(shipment.payment_reference)
    assert pi["status"] == "requires_capture"
    response = sh.deliver(client, sh.event("payment_intent.amount_capturable_updated", pi))
    assert response.status_code == 200
    shipment.refresh_from_db()
    return shipment


def test_card_booking_creates_a_manual_capture_intent_for_the_quote(stripe_on, alice):
    shipment = book_by_card(alice)
    assert shipment.status == Status.AWAITING_PAYMENT
    assert shipment.payment_method == PaymentMethod.CARD
    assert shipment.payment_state == PaymentState.PENDING
    pi = sh.intent(shipment.payment_reference)
    assert pi["capture_method"] == "manual"
    assert pi["amount"] == amount_minor(shipment.price) and pi["currency"] == "eur"
    assert pi["metadata"]["tracking_number"] == shipment.tracking_number


def test_authorisation_webhook_moves_the_shipment_to_review(stripe_on, alice, client):
    shipment = authorised(alice, client)
    assert shipment.payment_state == PaymentState.AUTHORIZED
    assert shipment.status == Status.PENDING_REVIEW
    review = shipment.events.get(status=Status.PENDING_REVIEW)
    assert review.actor_role == "system" and review.actor is None
    assert PaymentEvent.objects.get().outcome == "applied"


def test_staff_acceptance_captures_and_localstripe_confirms_by_webhook(
    stripe_on, alice, dora, live_server
):
    register_webhook(stripe_on, live_server.url + sh.WEBHOOK_PATH)
    shipment = authorised(alice, Client())
    services.shipment_accept(shipment=shipment, actor=dora)
    shipment.refresh_from_db()
    assert shipment.status == Status.ACCEPTED
    assert shipment.payment_state == PaymentState.CAPTURED
    assert sh.intent(shipment.payment_reference)["status"] == "succeeded"
    # localstripe itself signs and posts payment_intent.succeeded to the live server.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if PaymentEvent.objects.filter(type="payment_intent.succeeded").exists():
            break
        time.sleep(0.2)
    received = PaymentEvent.objects.get(type="payment_intent.succeeded")
    assert received.shipment_id == shipment.pk and received.outcome == "same"


def test_staff_rejection_releases_the_authorisation(stripe_on, alice, dora, client):
    shipment = authorised(alice, client)
    services.shipment_reject(shipment=shipment, actor=dora, reason="Outside our area")
    shipment.refresh_from_db()
    assert shipment.payment_state == PaymentState.CANCELED
    assert sh.intent(shipment.payment_reference)["status"] == "canceled"


def test_customer_cancel_before_acceptance_releases(stripe_on, alice, client):
    shipment = authorised(alice, client)
    services.shipment_cancel(shipment=shipment, actor=alice)
    shipment.refresh_from_db()
    assert shipment.status == Status.CANCELLED
    assert shipment.payment_state == PaymentState.CANCELED
    assert sh.intent(shipment.payment_reference)["status"] == "canceled"


def test_customer_cancel_after_capture_refunds(stripe_on, alice, dora, client):
    shipment = authorised(alice, client)
    services.shipment_accept(shipment=shipment, actor=dora)
    response = client.post(reverse("customer-shipment-cancel", args=[shipment.tracking_number]))
    assert response["Location"].startswith(reverse("login"))  # a visitor cannot cancel
    client.force_login(alice)
    client.post(reverse("customer-shipment-cancel", args=[shipment.tracking_number]))
    shipment.refresh_from_db()
    assert shipment.status == Status.CANCELLED
    assert shipment.payment_state == PaymentState.REFUNDED
    refunds = sh.stripe_client().v1.refunds.list(
        params={"payment_intent": shipment.payment_reference}
    )
    assert [r.amount for r in refunds.data] == [amount_minor(shipment.price)]
    # charge.refunded afterwards changes nothing more.
    charge = {"object": "charge", "payment_intent": shipment.payment_reference, "refunded": True}
    sh.deliver(client, sh.event("charge.refunded", charge))
    assert PaymentEvent.objects.get(type="charge.refunded").outcome == "same"


def test_same_event_delivered_twice_changes_state_once(stripe_on, alice, client):
    shipment = book_by_card(alice)
    pi = sh.confirm_card(shipment.payment_reference)
    event = sh.event("payment_intent.amount_capturable_updated", pi)
    assert sh.deliver(client, event).status_code == 200
    assert sh.deliver(client, event).status_code == 200
    shipment.refresh_from_db()
    assert shipment.status == Status.PENDING_REVIEW
    assert PaymentEvent.objects.filter(stripe_event_id=event["id"]).count() == 1
    assert shipment.events.filter(status=Status.PENDING_REVIEW).count() == 1


@pytest.mark.django_db(transaction=True)
def test_same_event_ten_at_once_changes_state_once(stripe_on, alice, live_server):
    require_postgres()
    shipment = book_by_card(alice)
    pi = sh.confirm_card(shipment.payment_reference)
    body = json.dumps(sh.event("payment_intent.amount_capturable_updated", pi))
    headers = {"Content-Type": "application/json", "Stripe-Signature": sh.sign(body)}
    barrier = threading.Barrier(10)
    codes: list[int] = []

    def post() -> None:
        barrier.wait()
        codes.append(
            requests.post(
                live_server.url + sh.WEBHOOK_PATH, data=body, headers=headers, timeout=30
            ).status_code
        )

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 10
    shipment.refresh_from_db()
    assert shipment.status == Status.PENDING_REVIEW
    assert shipment.events.filter(status=Status.PENDING_REVIEW).count() == 1
    assert PaymentEvent.objects.count() == 1


def test_an_older_event_after_a_newer_one_changes_nothing(stripe_on, alice, client):
    shipment = book_by_card(alice)
    now = int(time.time())
    failed = {
        **sh.intent(shipment.payment_reference),
        "status": "requires_payment_method",
        "last_payment_error": {"code": "card_declined"},
    }
    sh.deliver(client, sh.event("payment_intent.payment_failed", failed, created=now))
    pi = sh.confirm_card(shipment.payment_reference)
    older = sh.event("payment_intent.amount_capturable_updated", pi, created=now - 30)
    assert sh.deliver(client, older).status_code == 200
    shipment.refresh_from_db()
    assert shipment.payment_state == PaymentState.FAILED
    assert shipment.status == Status.AWAITING_PAYMENT
    assert PaymentEvent.objects.get(stripe_event_id=older["id"]).outcome == "stale"


def test_a_late_authorisation_event_never_undoes_a_capture(stripe_on, alice, dora, client):
    shipment = authorised(alice, client)
    services.shipment_accept(shipment=shipment, actor=dora)
    stale = {**sh.intent(shipment.payment_reference), "status": "requires_capture"}
    sh.deliver(client, sh.event("payment_intent.amount_capturable_updated", stale))
    shipment.refresh_from_db()
    assert shipment.payment_state == PaymentState.CAPTURED


@pytest.mark.parametrize("attack", ["tampered", "expired", "wrong_secret", "missing"])
def test_bad_signatures_are_rejected_with_no_change(stripe_on, alice, client, attack):
    shipment = book_by_card(alice)
    pi = sh.confirm_card(shipment.payment_reference)
    payload = sh.event("payment_intent.amount_capturable_updated", pi)
    body = json.dumps(payload)
    signature = {
        "tampered": sh.sign(body),
        "expired": sh.sign(body, timestamp=int(time.time()) - 3600),
        "wrong_secret": sh.sign(body, secret="whsec_someone_else"),
        "missing": "",
    }[attack]
    if attack == "tampered":
        body = body.replace('"requires_capture"', '"succeeded"')
    response = client.post(
        sh.WEBHOOK_PATH,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )
    assert response.status_code == 400
    shipment.refresh_from_db()
    assert shipment.payment_state == PaymentState.PENDING
    assert shipment.status == Status.AWAITING_PAYMENT
    assert not PaymentEvent.objects.exists()


def test_webhook_is_csrf_exempt_but_get_is_refused(stripe_on, alice):
    strict = Client(enforce_csrf_checks=True)
    shipment = book_by_card(alice)
    pi = sh.confirm_card(shipment.payment_reference)
    assert (
        sh.deliver(strict, sh.event("payment_intent.amount_capturable_updated", pi)).status_code
        == 200
    )
    assert strict.get(sh.WEBHOOK_PATH).status_code == 405


def test_declined_card_leaves_the_booking_awaiting_payment(stripe_on, alice, client):
    import stripe

    shipment = book_by_card(alice)
    with pytest.raises(stripe.CardError):
        sh.confirm_card(shipment.payment_reference, number=sh.DECLINED_CARD)
    pi = sh.intent(shipment.payment_reference)
    sh.deliver(client, sh.event("payment_intent.payment_failed", pi))
    shipment.refresh_from_db()
    assert shipment.payment_state == PaymentState.FAILED
    assert shipment.status == Status.AWAITING_PAYMENT
    client.force_login(alice)
    page = client.get(reverse("customer-shipment-pay", args=[shipment.tracking_number]))
    assert "declined" in page.content.decode()


def test_reconciliation_heals_a_lost_webhook(stripe_on, alice):
    lost = book_by_card(alice)
    sh.confirm_card(lost.payment_reference)  # authorised at Stripe; the webhook never came
    fresh = book_by_card(alice)
    sh.confirm_card(fresh.payment_reference)
    Shipment.objects.filter(pk=lost.pk).update(
        status_changed_at=timezone.now() - timedelta(minutes=10)
    )
    assert payments_reconcile_task() == {"applied": 1}
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.payment_state == PaymentState.AUTHORIZED
    assert lost.status == Status.PENDING_REVIEW
    assert lost.events.get(status=Status.PENDING_REVIEW).data["source"] == "reconcile"
    # A payment pending for less than the threshold is left to its webhook.
    assert fresh.payment_state == PaymentState.PENDING


def test_reconciliation_runs_periodically(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["payments-reconcile"]
    assert entry["task"] == "shipments.tasks.payments_reconcile"
    assert entry["schedule"] <= 300


def test_pay_page_mounts_stripe_elements(stripe_on, alice, client):
    shipment = book_by_card(alice)
    client.force_login(alice)
    html = client.get(
        reverse("customer-shipment-pay", args=[shipment.tracking_number])
    ).content.decode()
    assert f'src="{stripe_on}/js.stripe.com/v3/"' in html
    assert f'data-client-secret="{shipment.payment_reference}_secret_' in html
    assert 'data-publishable-key="pk_test_dropmate"' in html


def test_going_back_to_draft_releases_the_intent_and_rebooking_makes_a_new_one(
    stripe_on, alice, client
):
    shipment = book_by_card(alice)
    first = shipment.payment_reference
    client.force_login(alice)
    response = client.post(reverse("customer-shipment-pay-back", args=[shipment.tracking_number]))
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == Status.DRAFT and shipment.payment_reference == ""
    assert sh.intent(first)["status"] == "canceled"
    result = booking.booking_book(shipment=shipment, actor=alice, payment_method="card")
    assert result.shipment.payment_reference not in ("", first)


def test_booking_twice_is_refused(stripe_on, alice):
    shipment = book_by_card(alice)
    with pytest.raises(InvalidTransition):
        booking.booking_book(shipment=shipment, actor=alice, payment_method="card")
    assert Shipment.objects.get(pk=shipment.pk).payment_reference == shipment.payment_reference


def test_canceled_event_releases_an_authorised_payment(stripe_on, alice, client):
    shipment = authorised(alice, client)
    canceled = {**sh.intent(shipment.payment_reference), "status": "canceled"}
    sh.deliver(client, sh.event("payment_intent.canceled", canceled))
    shipment.refresh_from_db()
    assert shipment.payment_state == PaymentState.CANCELED


def test_events_for_unknown_intents_are_recorded_and_ignored(stripe_on, client, alice):
    shipment = book_by_card(alice)
    other = sh.event("payment_intent.amount_capturable_updated", {"id": "pi_not_ours"})
    unhandled = sh.event("customer.created", {"id": "cus_1"})
    assert sh.deliver(client, other).status_code == 200
    assert sh.deliver(client, unhandled).status_code == 200
    assert set(PaymentEvent.objects.values_list("outcome", flat=True)) == {"ignored"}
    shipment.refresh_from_db()
    assert shipment.payment_state == PaymentState.PENDING
