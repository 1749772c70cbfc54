"""Routes of the customer portal (included by portals/urls.py)."""

from django.urls import path

from portals.views import customer
from shipments.webhooks import stripe_webhook

STEP = "<str:step>"

urlpatterns = [
    path("signup/", customer.signup, name="signup"),
    path("account/", customer.profile, name="customer-profile"),
    path("book/", customer.booking_start, name="customer-book"),
    path("book/new/<str:step>/", customer.booking_step, name="customer-book-new"),
    path("book/geocode/", customer.booking_geocode, name="customer-book-geocode"),
    path("book/<str:tracking>/review/", customer.booking_review, name="customer-book-review"),
    path("book/<str:tracking>/delete/", customer.booking_delete, name="customer-book-delete"),
    path("book/<str:tracking>/<str:step>/", customer.booking_step, name="customer-book-step"),
    path("shipments/", customer.shipment_list, name="customer-shipments"),
    path("shipments/<str:tracking>/", customer.shipment_detail, name="customer-shipment"),
    path("shipments/<str:tracking>/pay/", customer.shipment_pay, name="customer-shipment-pay"),
    path(
        "shipments/<str:tracking>/pay/back/",
        customer.shipment_pay_back,
        name="customer-shipment-pay-back",
    ),
    path(
        "shipments/<str:tracking>/cancel/",
        customer.shipment_cancel,
        name="customer-shipment-cancel",
    ),
    path(
        "shipments/<str:tracking>/pod/<str:kind>/",
        customer.shipment_pod_file,
        name="customer-shipment-pod",
    ),
    # Stripe posts here; the only CSRF-exempt view (the signature authenticates it).
    path("payments/stripe/webhook/", stripe_webhook, name="stripe-webhook"),
]
