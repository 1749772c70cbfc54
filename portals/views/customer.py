"""Customer portal: account, the booking wizard, payment, my shipments and the shipment page.

Thin views: forms parse, `shipments.booking`/`shipments.services` decide and write, selectors
read. Another customer's shipment or draft is a 404, never a 403.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dropmate.accounts.services import user_profile_update, user_signup
from dropmate.lib.decorators import customer_required
from dropmate.lib.exceptions import DomainError, Invalid, NotFound, StaleVersion
from dropmate.lib.geocoding import geocode, geocoder_configured
from portals.forms.customer import (
    STEP_FORMS,
    BookForm,
    CancelForm,
    ProfileForm,
    RedeliveryForm,
    ShipmentFilterForm,
    SignupForm,
)
from shipments import booking, lifecycle, payments, selectors, services
from shipments.lifecycle import Status
from shipments.models import PaymentMethod, PaymentState, Shipment

PAGE_SIZE = 20


# --- Account ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = user_signup(
            email=data["email"],
            password=data["password1"],
            first_name=data["first_name"],
            last_name=data.get("last_name", ""),
            phone=data.get("phone", ""),
        )
        login(request, user, backend=settings.AUTHENTICATION_BACKENDS[-1])
        messages.success(request, "Welcome! Your account is ready. Book your first delivery.")
        return redirect("customer-book")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user_profile_update(user=request.user, **{n: form.cleaned_data[n] for n in form.fields})
        messages.success(request, "Your profile was saved.")
        return redirect("customer-profile")
    return render(request, "portals/customer/profile.html", {"form": form})


# --- Booking wizard --------------------------------------------------------------------------


def _draft_for(request: HttpRequest, tracking: str) -> Shipment:
    try:
        shipment = selectors.shipment_get_for_user(user=request.user, tracking_number=tracking)
    except NotFound:
        raise Http404("No such shipment.") from None
    return shipment


def _initial(shipment: Shipment | None, step: str) -> dict:
    if shipment is None:
        return {"service_level": "standard"} if step == "service" else {}
    return {name: getattr(shipment, name) for name in booking.STEP_FIELDS[step]}


def _wizard_context(shipment: Shipment | None, step: str, **extra) -> dict:
    done = booking.booking_steps_done(shipment) if shipment else set()
    steps = [
        {"key": s, "label": booking.STEP_LABELS[s], "done": s in done, "current": s == step}
        for s in booking.STEPS
    ]
    index = booking.STEPS.index(step)
    return {
        "shipment": shipment,
        "step": step,
        "steps": steps,
        "step_number": index + 1,
        "step_count": len(booking.STEPS),
        "previous_step": booking.STEPS[index - 1] if index else None,
        "geocoder": geocoder_configured(),
        "map_center": settings.DROPMATE_MAP_CENTER,
        **extra,
    }


@customer_required
@require_GET
def booking_start(request: HttpRequest) -> HttpResponse:
    drafts = [
        {"shipment": d, "resume": booking.booking_first_incomplete_step(d)}
        for d in selectors.customer_drafts(user=request.user)
    ]
    return render(request, "portals/customer/booking_start.html", {"drafts": drafts})


@customer_required
@require_http_methods(["GET", "POST"])
def booking_step(request: HttpRequest, step: str, tracking: str | None = None) -> HttpResponse:
    shipment = _draft_for(request, tracking) if tracking else None
    if shipment is not None and shipment.status != Status.DRAFT:
        return redirect("customer-shipment", tracking=shipment.tracking_number)
    if step not in STEP_FORMS or (shipment is None and step != "pickup"):
        raise Http404("No such step.")
    form = STEP_FORMS[step](request.POST or None, initial=_initial(shipment, step))
    if request.method == "POST" and form.is_valid():
        try:
            shipment = booking.booking_step_save(
                customer=request.user, step=step, data=form.cleaned_data, shipment=shipment
            )
        except booking.BookingInvalid as exc:
            for field, message in exc.fields.items():
                form.add_error(field if field in form.fields else None, message)
        else:
            following = booking.STEPS[booking.STEPS.index(step) + 1]
            return redirect("customer-book-step", tracking=shipment.tracking_number, step=following)
    return render(
        request, "portals/customer/booking_step.html", _wizard_context(shipment, step, form=form)
    )


@customer_required
@require_http_methods(["GET", "POST"])
def booking_review(request: HttpRequest, tracking: str) -> HttpResponse:
    shipment = _draft_for(request, tracking)
    if shipment.status != Status.DRAFT:
        return redirect("customer-shipment", tracking=shipment.tracking_number)
    missing = booking.booking_first_incomplete_step(shipment)
    if missing != "review":
        messages.info(request, "A few details are still missing.")
        return redirect("customer-book-step", tracking=tracking, step=missing)
    form = BookForm(request.POST or None, methods=booking.booking_payment_methods())
    errors: dict[str, str] = {}
    if request.method == "POST" and form.is_valid():
        try:
            result = booking.booking_book(
                shipment=shipment,
                actor=request.user,
                payment_method=form.cleaned_data["payment_method"],
            )
        except booking.BookingInvalid as exc:
            errors = exc.fields
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("customer-book-review", tracking=tracking)
        else:
            if result.next == "pay":
                return redirect("customer-shipment-pay", tracking=tracking)
            messages.success(request, "Booked! We will review your order shortly.")
            return redirect("customer-shipment", tracking=tracking)
    context = _wizard_context(shipment, "review", form=form, errors=errors)
    return render(request, "portals/customer/booking_review.html", context)


@customer_required
@require_POST
def booking_delete(request: HttpRequest, tracking: str) -> HttpResponse:
    shipment = _draft_for(request, tracking)
    try:
        services.shipment_delete_draft(shipment=shipment, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("customer-shipment", tracking=tracking)
    messages.success(request, "The draft was deleted.")
    return redirect("customer-book")


@customer_required
@require_GET
def booking_geocode(request: HttpRequest) -> HttpResponse:
    found = geocode(request.GET.get("q", "")[:300])
    if found is None:
        return JsonResponse({"error": "No match. Place the pin on the map."}, status=404)
    return JsonResponse({"lat": found.lat, "lng": found.lng, "label": found.label})


# --- Payment ---------------------------------------------------------------------------------


@customer_required
@require_GET
def shipment_pay(request: HttpRequest, tracking: str) -> HttpResponse:
    shipment = _draft_for(request, tracking)
    if shipment.status != Status.AWAITING_PAYMENT or shipment.payment_method != PaymentMethod.CARD:
        return redirect("customer-shipment", tracking=tracking)
    try:
        client_secret = payments.payment_client_secret(shipment=shipment)
    except payments.PaymentError as exc:
        messages.error(request, exc.message)
        client_secret = ""
    context = {
        "shipment": shipment,
        "client_secret": client_secret,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "return_url": request.build_absolute_uri(
            reverse("customer-shipment", kwargs={"tracking": tracking})
        ),
        "failed": shipment.payment_state == PaymentState.FAILED,
    }
    return render(request, "portals/customer/pay.html", context)


@customer_required
@require_POST
def shipment_pay_back(request: HttpRequest, tracking: str) -> HttpResponse:
    shipment = _draft_for(request, tracking)
    try:
        booking.booking_back_to_draft(shipment=shipment, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("customer-shipment", tracking=tracking)
    messages.info(request, "Your booking is a draft again: change what you need, then book.")
    return redirect("customer-book-review", tracking=tracking)


# --- My shipments ----------------------------------------------------------------------------


@customer_required
@require_GET
def shipment_list(request: HttpRequest) -> HttpResponse:
    form = ShipmentFilterForm(request.GET or None)
    status = query = ""
    if form.is_valid():
        status, query = form.cleaned_data["status"], form.cleaned_data["q"]
    shipments = selectors.customer_shipments(user=request.user, status=status, query=query)
    page = Paginator(shipments, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "filtered": bool(status or query),
        "qs": params.urlencode(),
    }
    return render(request, "portals/customer/shipment_list.html", context)


def _detail_context(
    request: HttpRequest, shipment: Shipment, redelivery_form: RedeliveryForm | None = None
) -> dict:
    moves = selectors.shipment_moves_for(shipment=shipment, user=request.user)
    redelivery = selectors.shipment_redelivery_options(shipment=shipment, user=request.user)
    initial = {"version": shipment.version, "dropoff_instructions": shipment.dropoff_instructions}
    return {
        "shipment": shipment,
        "events": selectors.shipment_events(shipment=shipment),
        "can_cancel": any(m.target == Status.CANCELLED for m in moves)
        and shipment.status != Status.DRAFT,
        "pod": getattr(shipment, "pod", None) if shipment.status == Status.DELIVERED else None,
        "on_the_road": shipment.status in lifecycle.ON_THE_ROAD,
        "cancel_form": CancelForm(),
        "redelivery": redelivery,
        "redelivery_form": redelivery_form or RedeliveryForm(initial=initial),
    }


@customer_required
@require_http_methods(["GET", "POST"])
def shipment_detail(request: HttpRequest, tracking: str) -> HttpResponse:
    """The shipment page. A POST is the "Choose a new delivery time" form (failed attempts)."""
    shipment = _draft_for(request, tracking)
    if shipment.status == Status.DRAFT:
        step = booking.booking_first_incomplete_step(shipment)
        if step == "review":
            return redirect("customer-book-review", tracking=tracking)
        return redirect("customer-book-step", tracking=tracking, step=step)
    form = None
    if request.method == "POST":
        form = RedeliveryForm(request.POST)
        if form.is_valid() and _redelivery_saved(request, shipment, form):
            return redirect("customer-shipment", tracking=shipment.tracking_number)
    template = "portals/customer/shipment_detail.html"
    if request.headers.get("HX-Request") and request.GET.get("part") == "status":
        template += "#status"
    return render(request, template, _detail_context(request, shipment, form))


def _redelivery_saved(request: HttpRequest, shipment: Shipment, form: RedeliveryForm) -> bool:
    """True when the page may redirect: saved, or refused with a message; False to show the
    form again with its field errors."""
    data = form.cleaned_data
    try:
        saved = services.shipment_redelivery_request(
            shipment=shipment,
            actor=request.user,
            window_start=data["delivery_window_start"],
            window_end=data["delivery_window_end"],
            instructions=data["dropoff_instructions"],
            expected_version=data["version"],
        )
    except StaleVersion:
        messages.error(
            request,
            "This shipment changed while you were choosing (see its timeline), so nothing was "
            "saved. Please choose the new delivery time again.",
        )
    except Invalid as exc:
        fields = {name: v for name, v in exc.details.items() if isinstance(v, list)}
        form.add_window_errors(fields or {"__all__": [exc.message]})
        return False
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        window = selectors.delivery_window_label(
            start=saved.delivery_window_start, end=saved.delivery_window_end
        )
        messages.success(
            request, f"New delivery time saved: {window}. Your driver will come back then."
        )
    return True


@customer_required
@require_POST
def shipment_cancel(request: HttpRequest, tracking: str) -> HttpResponse:
    shipment = _draft_for(request, tracking)
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.shipment_cancel(shipment=shipment, actor=request.user, reason=reason)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Your shipment was cancelled.")
    return redirect("customer-shipment", tracking=tracking)


@login_required
@require_GET
def shipment_pod_file(request: HttpRequest, tracking: str, kind: str) -> HttpResponse:
    """Proof-of-delivery images: the owner and staff only, never a public URL."""
    user = request.user
    role = services.actor_role(user)
    if kind not in ("photo", "signature") or role not in (lifecycle.CUSTOMER, *lifecycle.STAFF):
        raise Http404("No such file.")
    shipment = _draft_for(request, tracking)
    pod = getattr(shipment, "pod", None)
    field = getattr(pod, kind, None) if pod is not None else None
    if not field:
        raise Http404("No such file.")
    response = FileResponse(field.open("rb"))
    response["Cache-Control"] = "private, no-store"
    return response
