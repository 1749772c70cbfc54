"""Staff pages: the dispatch console and analytics. Thin: parse, call a service or selector,
answer with a message. Conflicts (someone moved the shipment first) are messages, not errors."""

import csv
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from drivers.messaging import driver_message_send
from drivers.planning.selectors import latest_plan_run, plan_routes_view
from drivers.planning.services import plan_routes
from dropmate.lib.decorators import staff_required
from dropmate.lib.exceptions import DomainError, NotFound
from portals.forms.staff import (
    REJECT_REASONS,
    AnalyticsRangeForm,
    AssignForm,
    MessageForm,
    RejectForm,
    ShipmentActionForm,
)
from shipments import analytics, dispatch, services
from shipments.payments import PaymentError
from shipments.selectors import shipment_get_for_user

CONSOLE = "portals/staff/console.html"


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _panel_context() -> dict:
    drivers = list(dispatch.drivers_with_load())
    unassigned = list(dispatch.queue_unassigned()[:50])
    return {
        "review": dispatch.queue_awaiting_review()[:50],
        "review_count": dispatch.queue_awaiting_review().count(),
        "unassigned": [
            (s, dispatch.driver_suggest(shipment=s, drivers=drivers)) for s in unassigned
        ],
        "unassigned_count": dispatch.queue_unassigned().count(),
        "at_risk": dispatch.queue_at_risk()[:50],
        "drivers": [(d, dispatch.next_stop(d)) for d in drivers],
        "positions": [
            {
                "driver_id": d.pk,
                "name": str(d),
                "lat": d.last_lat,
                "lng": d.last_lng,
                "load": d.load,
            }
            for d in drivers
            if d.last_lat is not None and d.last_lng is not None
        ],
        "reject_reasons": REJECT_REASONS,
        "refreshed_at": timezone.now(),
        "refresh_seconds": settings.DROPMATE_CONSOLE_REFRESH_SECONDS,
        "plan_run": latest_plan_run(),
        "plan_routes": plan_routes_view(),
    }


def _done(request: HttpRequest) -> HttpResponse:
    """After a console action: for htmx the refreshed panel plus the messages (swapped in out
    of band, outside the panel); a redirect otherwise."""
    if not _is_htmx(request):
        return redirect("staff-console")
    panel = render_to_string(f"{CONSOLE}#panel", _panel_context(), request=request)
    notes = render_to_string(
        f"{CONSOLE}#console_messages", {"oob": True, "inline_messages": True}, request=request
    )
    return HttpResponse(panel + notes)


def _attempt(request: HttpRequest, tracking: str, work: Callable[..., object], ok: str) -> bool:
    try:
        shipment = shipment_get_for_user(user=request.user, tracking_number=tracking)
        work(shipment)
    except NotFound:
        messages.error(request, f"{tracking}: no such shipment.")
    except (DomainError, PaymentError) as exc:
        messages.error(request, f"{tracking}: {getattr(exc, 'message', exc)}")
    else:
        messages.success(request, ok)
        return True
    return False


def _form_errors(request: HttpRequest, form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@staff_required
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    context = _panel_context()
    context["message_form"] = MessageForm()
    context["assign_drivers"] = [d for d, _ in context["drivers"]]
    return render(request, CONSOLE, context)


@staff_required
@require_GET
def console_panel(request: HttpRequest) -> HttpResponse:
    return render(request, f"{CONSOLE}#panel", _panel_context())


@staff_required
@require_POST
def console_accept(request: HttpRequest) -> HttpResponse:
    form = ShipmentActionForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _done(request)
    number, version = form.cleaned_data["tracking_number"], form.cleaned_data["version"]
    _attempt(
        request,
        number,
        lambda s: services.shipment_accept(
            shipment=s, actor=request.user, expected_version=version
        ),
        f"{number} accepted.",
    )
    return _done(request)


@staff_required
@require_POST
def console_reject(request: HttpRequest) -> HttpResponse:
    form = RejectForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _done(request)
    data = form.cleaned_data
    _attempt(
        request,
        data["tracking_number"],
        lambda s: services.shipment_reject(
            shipment=s, actor=request.user, reason=data["reason"], expected_version=data["version"]
        ),
        f"{data['tracking_number']} rejected.",
    )
    return _done(request)


@staff_required
@require_POST
def console_assign(request: HttpRequest) -> HttpResponse:
    form = AssignForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _done(request)
    driver = form.cleaned_data["driver"]
    for number, version in form.cleaned_data["shipments"]:
        _attempt(
            request,
            number,
            lambda s, v=version: services.shipment_assign(
                shipment=s, actor=request.user, driver=driver, expected_version=v
            ),
            f"{number} assigned to {driver}.",
        )
    return _done(request)


@staff_required
@require_POST
def console_message(request: HttpRequest) -> HttpResponse:
    form = MessageForm(request.POST)
    if form.is_valid():
        driver = form.cleaned_data["driver"]
        try:
            driver_message_send(driver=driver, sender=request.user, body=form.cleaned_data["body"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Message sent to {driver}.")
    else:
        _form_errors(request, form)
    if _is_htmx(request):
        return render(request, f"{CONSOLE}#message_result", {"inline_messages": True})
    return redirect("staff-console")


@staff_required
@require_POST
def console_plan(request: HttpRequest) -> HttpResponse:
    """Plan today's routes now (the solver keeps to the planning time budget)."""
    result = plan_routes(actor=request.user)
    level = messages.SUCCESS if result.ok else messages.ERROR
    unassigned = (
        f" {len(result.unassigned)} shipment(s) left unassigned." if result.unassigned else ""
    )
    messages.add_message(request, level, f"{result.message}{unassigned}")
    return _done(request)


def _period(request: HttpRequest) -> tuple[AnalyticsRangeForm, analytics.Period]:
    default = AnalyticsRangeForm.default_period()
    if "start" not in request.GET and "end" not in request.GET:
        form = AnalyticsRangeForm(initial={"start": default.start, "end": default.end})
        return form, default
    form = AnalyticsRangeForm(request.GET)
    return form, form.period() if form.is_valid() else default


@staff_required
@require_GET
def analytics_page(request: HttpRequest) -> HttpResponse:
    form, period = _period(request)
    sections = analytics.analytics_report(period=period)
    return render(
        request,
        "portals/staff/analytics.html",
        {"form": form, "period": period, "sections": sections},
    )


@staff_required
@require_GET
def analytics_csv(request: HttpRequest, key: str) -> HttpResponse:
    form, period = _period(request)
    section = analytics.analytics_section(period=period, key=key)
    if section is None:
        raise Http404("No such table.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"dropmate-{key}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(section.columns)
    writer.writerows(["" if v is None else v for v in row] for row in section.rows)
    return response
