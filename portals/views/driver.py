"""The driver portal: a phone-first app under /driver/. Thin views over drivers.services and
drivers.selectors; every shipment is looked up through the driver's own jobs (others: 404)."""

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from drivers import selectors, services
from drivers.models import Driver
from dropmate.lib.decorators import driver_required
from dropmate.lib.exceptions import DomainError, NotFound
from portals.forms.driver import DeclineForm, DeliverForm, DutyForm, StatusForm
from shipments import lifecycle
from shipments.handover import pod_required
from shipments.lifecycle import Status
from shipments.models import Shipment

# Moves that have their own form rather than a plain button.
_OWN_FORM = {Status.ACCEPTED, Status.DELIVERED, Status.FAILED_ATTEMPT}
# Names the driver a page belongs to, for the service worker's per-driver offline copies.
OFFLINE_OWNER_HEADER = "X-DropMate-Offline-Owner"
# How long a page may take on the network before the phone shows its offline copy.
PAGE_NETWORK_TIMEOUT_S = 4.0


def offline_owner(user) -> str:
    """An opaque, stable name for the user's offline copies (no database id on the phone)."""
    return salted_hmac(
        "dropmate.driver.offline-owner", str(user.pk), algorithm="sha256"
    ).hexdigest()[:24]


def _offline_copy(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page the driver app may keep for offline use: the answer names whose it is."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if request.user.is_authenticated and response.status_code == 200:
            response[OFFLINE_OWNER_HEADER] = offline_owner(request.user)
        return response

    return wrapped


def _driver(request: HttpRequest) -> Driver:
    try:
        return selectors.driver_for_user(user=request.user)
    except NotFound:
        raise Http404("No such page.") from None


def _job(driver: Driver, tracking: str) -> Shipment:
    try:
        return selectors.driver_job_get(driver=driver, tracking_number=tracking)
    except NotFound:
        raise Http404("No such shipment.") from None


def _app_context(driver: Driver) -> dict:
    return {
        "driver": driver,
        "unread": selectors.driver_unread_count(driver=driver),
        "fix_interval_s": settings.DRIVER_FIX_INTERVAL_S,
        "fix_min_distance_m": settings.DRIVER_FIX_MIN_DISTANCE_M,
    }


@never_cache
@driver_required
@_offline_copy
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    driver = _driver(request)
    jobs = selectors.driver_jobs_today(driver=driver)
    template = "portals/driver/home.html"
    if request.GET.get("fragment") == "jobs":
        # Only the job list, for the app to swap in when dispatch changes a job.
        template += "#job_list"
    return render(
        request,
        template,
        {**_app_context(driver), "jobs": jobs, "open_count": sum(j.is_open for j in jobs)},
    )


@driver_required
@require_POST
def duty(request: HttpRequest) -> HttpResponse:
    driver = _driver(request)
    form = DutyForm(request.POST)
    if form.is_valid():
        services.driver_duty_set(driver=driver, on_duty=form.cleaned_data["on_duty"])
        messages.success(
            request,
            "You are on duty: location sharing is on."
            if driver.on_duty
            else "You are off duty: location sharing stopped and dispatch no longer sees you.",
        )
    return redirect("driver-home")


def _job_page(request: HttpRequest, driver: Driver, shipment: Shipment, **forms) -> dict:
    moves = lifecycle.moves_from(shipment.status, lifecycle.DRIVER)
    targets = {m.target for m in moves}
    return {
        **_app_context(driver),
        "job": shipment,
        "buttons": [m for m in moves if m.target not in _OWN_FORM],
        "can_answer_offer": shipment.status == Status.ASSIGNED,
        "accepted": services.job_accepted_by_driver(shipment=shipment),
        "can_deliver": Status.DELIVERED in targets,
        "can_fail": Status.FAILED_ATTEMPT in targets,
        "pod_required": pod_required(shipment=shipment),
        "pin_required": bool(shipment.handover_pin_hash),
        "decline_form": forms.get("decline_form") or DeclineForm(),
        "fail_form": forms.get("fail_form") or StatusForm(initial={"to": Status.FAILED_ATTEMPT}),
        "deliver_form": forms.get("deliver_form") or DeliverForm(),
        "events": shipment.events.order_by("-seq")[:10],
    }


@never_cache
@driver_required
@_offline_copy
@require_GET
def job_detail(request: HttpRequest, tracking: str) -> HttpResponse:
    driver = _driver(request)
    shipment = _job(driver, tracking)
    return render(request, "portals/driver/job.html", _job_page(request, driver, shipment))


def _refused(request, driver, shipment, exc: DomainError, **forms) -> HttpResponse:
    if exc.code == "not_found":
        raise Http404("No such shipment.")
    messages.error(request, exc.message)
    shipment.refresh_from_db()
    context = _job_page(request, driver, shipment, **forms)
    status = exc.http_status if exc.http_status in (400, 409, 503) else 400
    return render(request, "portals/driver/job.html", context, status=status)


@driver_required
@require_POST
def job_accept(request: HttpRequest, tracking: str) -> HttpResponse:
    driver = _driver(request)
    shipment = _job(driver, tracking)
    try:
        services.driver_job_accept(driver=driver, shipment=shipment)
    except DomainError as exc:
        return _refused(request, driver, shipment, exc)
    messages.success(request, f"You accepted {shipment.tracking_number}.")
    return redirect("driver-job", tracking=shipment.tracking_number)


@driver_required
@require_POST
def job_decline(request: HttpRequest, tracking: str) -> HttpResponse:
    driver = _driver(request)
    shipment = _job(driver, tracking)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose why you decline this job.")
        context = _job_page(request, driver, shipment, decline_form=form)
        return render(request, "portals/driver/job.html", context, status=400)
    try:
        services.driver_job_decline(driver=driver, shipment=shipment, **form.cleaned_data)
    except DomainError as exc:
        return _refused(request, driver, shipment, exc, decline_form=form)
    messages.success(
        request, f"You declined {shipment.tracking_number}; dispatch will reassign it."
    )
    return redirect("driver-home")


@driver_required
@require_POST
def job_status(request: HttpRequest, tracking: str) -> HttpResponse:
    driver = _driver(request)
    shipment = _job(driver, tracking)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the highlighted fields.")
        return render(
            request,
            "portals/driver/job.html",
            _job_page(request, driver, shipment, fail_form=form),
            status=400,
        )
    try:
        moved = services.driver_job_move(driver=driver, shipment=shipment, **form.cleaned_data)
    except DomainError as exc:
        return _refused(request, driver, shipment, exc, fail_form=form)
    messages.success(request, f"{moved.tracking_number}: {moved.get_status_display()}.")
    return redirect("driver-job", tracking=moved.tracking_number)


@driver_required
@require_POST
def job_deliver(request: HttpRequest, tracking: str) -> HttpResponse:
    driver = _driver(request)
    shipment = _job(driver, tracking)
    form = DeliverForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Check the highlighted fields.")
        context = _job_page(request, driver, shipment, deliver_form=form)
        return render(request, "portals/driver/job.html", context, status=400)
    data = form.cleaned_data
    try:
        moved = services.driver_job_deliver(
            driver=driver,
            shipment=shipment,
            photo=data["photo"],
            signature=data["signature"] or data["signature_data"],
            recipient_name=data["recipient_name"],
            handover_pin=data["pin"],
        )
    except DomainError as exc:
        field = exc.details.get("field")
        if field in ("photo", "signature", "pin", "recipient_name"):
            form.add_error(field, exc.message)
        return _refused(request, driver, shipment, exc, deliver_form=form)
    messages.success(request, f"{moved.tracking_number} delivered. Thank you!")
    return redirect("driver-home")


@never_cache
@driver_required
@_offline_copy
@require_GET
def messages_list(request: HttpRequest) -> HttpResponse:
    driver = _driver(request)
    items = selectors.driver_messages(driver=driver)
    services.driver_messages_mark_read(driver=driver)
    return render(request, "portals/driver/messages.html", {**_app_context(driver), "items": items})


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """The page the service worker shows when a page was never cached and the network is gone."""
    return render(request, "portals/driver/offline.html")


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from /driver/ (not /static/) so its scope covers the whole driver app."""
    shell = [
        reverse("driver-home"),
        reverse("driver-offline"),
        reverse("driver-manifest"),
        static("driver/app.js"),
        static("driver/driver.css"),
        static("css/app.css"),
        static("driver/icons/icon-192.png"),
    ]
    response = render(
        request,
        "portals/driver/sw.js",
        {
            "shell_json": json.dumps(shell),
            "version": _asset_version(shell),
            "login_path": reverse(settings.LOGIN_URL),
            "csrf_cookie": settings.CSRF_COOKIE_NAME,
            "owner_header": OFFLINE_OWNER_HEADER,
            "page_timeout_ms": int(PAGE_NETWORK_TIMEOUT_S * 1000),
        },
        content_type="application/javascript",
    )
    response["Service-Worker-Allowed"] = reverse("driver-home")
    response["Cache-Control"] = "no-cache"
    return response


_SW_TEMPLATE = Path(settings.BASE_DIR) / "templates" / "portals" / "driver" / "sw.js"


def _asset_version(shell: list[str]) -> str:
    """Changes whenever the worker or a file of the app shell changes, so phones install the
    new worker, which stores the shell afresh and deletes the old caches. (With hashed static
    names the URLs change too; in development the files' size and time do.)"""
    digest = hashlib.sha256()
    files = [_SW_TEMPLATE]
    for url in shell:
        digest.update(url.encode())
        if url.startswith(settings.STATIC_URL):
            found = finders.find(url.removeprefix(settings.STATIC_URL))
            if found:
                files.append(Path(found))
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    home_url = reverse("driver-home")
    data = {
        "name": f"{settings.DROPMATE_SITE_NAME} Driver",
        "short_name": "Driver",
        "id": home_url,
        "start_url": home_url,
        "scope": home_url,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#0b5cad",
        "icons": [
            {"src": static(f"driver/icons/icon-{n}.png"), "sizes": f"{n}x{n}", "type": "image/png"}
            for n in (192, 512)
        ]
        + [
            {
                "src": static("driver/icons/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            }
        ],
    }
    response = JsonResponse(data, content_type="application/manifest+json")
    return response
