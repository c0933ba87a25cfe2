"""Log pages: parse the query, call one service, render. Staff with the right permission only."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from mappings.delivery import remapping, replays
from mappings.delivery.replays import NotReplayable
from mappings.log_pages import (
    charts,
    config_history,
    dashboard,
    dashboard_figures,
    data_point_usage,
    environment_health,
    export,
    presenters,
    remap_preview,
)
from mappings.log_pages.filters import AttemptFilter, DeliveryFilter
from mappings.log_pages.queries import LogPage, keyset_page
from mappings.models import Delivery, DeliveryAttempt
from mappings.models.audit import REMAPPABLE_STATUSES

VIEW_LOG = "mappings.view_delivery"
REPLAY = "mappings.replay_delivery"


def log_view(permission: str) -> Callable:
    """Staff only (else the login page), then the permission (else 403)."""

    def decorate(view: Callable) -> Callable:
        return staff_member_required(permission_required(permission, raise_exception=True)(view))

    return decorate


def _render(request: HttpRequest, template: str, title: str, **context) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": title, **context}
    return render(request, f"mappings/logs/{template}", context)


def _query(request: HttpRequest, **changes) -> str:
    """The current query string with some parameters replaced (None removes one)."""
    query = request.GET.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = value
    return query.urlencode()


def _page(request: HttpRequest, filterset) -> LogPage:
    if not filterset.is_valid():
        return LogPage([], None, None)
    return keyset_page(
        filterset.qs,
        older_than=request.GET.get("older"),
        newer_than=request.GET.get("newer"),
        size=settings.LOG_PAGE_SIZE,
    )


def _list_context(request: HttpRequest, filterset) -> dict:
    page = _page(request, filterset)
    return {
        "filter": filterset,
        "page": page,
        "older_query": page.older and _query(request, older=page.older, newer=None),
        "newer_query": page.newer and _query(request, newer=page.newer, older=None),
        "filter_query": _query(request, older=None, newer=None),
        "paged": bool(request.GET.get("older") or request.GET.get("newer")),
    }


def _deliveries(request: HttpRequest) -> DeliveryFilter:
    related = Delivery.objects.select_related("mapping_set", "environment", "api_client")
    return DeliveryFilter(request.GET, queryset=related)


def _attempts(request: HttpRequest) -> AttemptFilter:
    related = DeliveryAttempt.objects.select_related(
        "mapping_set", "environment", "triggered_by", "delivery"
    )
    return AttemptFilter(request.GET, queryset=related)


@log_view(VIEW_LOG)
def delivery_list(request: HttpRequest) -> HttpResponse:
    context = _list_context(request, _deliveries(request))
    return _render(request, "delivery_list.html", "Deliveries", **context)


@log_view("mappings.view_deliveryattempt")
def attempt_list(request: HttpRequest) -> HttpResponse:
    context = _list_context(request, _attempts(request))
    return _render(request, "attempt_list.html", "Braze calls", **context)


def _csv(lines, name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@log_view(VIEW_LOG)
def delivery_csv(request: HttpRequest) -> HttpResponse:
    filterset = _deliveries(request)
    if not filterset.is_valid():
        return redirect(f"{reverse('logs:deliveries')}?{request.GET.urlencode()}")
    lines = export.delivery_csv(filterset.qs, settings.LOG_EXPORT_MAX_ROWS)
    return _csv(lines, "deliveries.csv")


@log_view("mappings.view_deliveryattempt")
def attempt_csv(request: HttpRequest) -> HttpResponse:
    filterset = _attempts(request)
    if not filterset.is_valid():
        return redirect(f"{reverse('logs:attempts')}?{request.GET.urlencode()}")
    return _csv(export.attempt_csv(filterset.qs, settings.LOG_EXPORT_MAX_ROWS), "braze-calls.csv")


@log_view(VIEW_LOG)
def delivery_detail(request: HttpRequest, pk) -> HttpResponse:
    delivery = get_object_or_404(
        Delivery.objects.select_related("mapping_set", "environment", "api_client"), pk=pk
    )
    view = presenters.delivery_view(delivery)
    may_replay = request.user.has_perm(REPLAY)
    return _render(
        request, "delivery_detail.html", "Delivery", view=view,
        can_replay=may_replay and view.replayable,
        can_remap=may_replay and delivery.status in REMAPPABLE_STATUSES,
        version_recorded=config_history.version_recorded(delivery),
    )  # fmt: skip


@require_POST
@log_view(REPLAY)
def replay_delivery(request: HttpRequest, pk) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.select_related("environment"), pk=pk)
    try:
        replays.replay_one(delivery, request.user)
        messages.success(request, "Replay sent: a new attempt was logged.")
    except NotReplayable as error:
        messages.error(request, str(error))
    return redirect("logs:delivery", pk=delivery.pk)


@log_view(REPLAY)
def bulk_replay(request: HttpRequest) -> HttpResponse:
    """GET: how many deliveries the current filter would replay. POST: replay them."""
    filterset = _deliveries(request)
    if not filterset.is_valid():
        return redirect(f"{reverse('logs:deliveries')}?{request.GET.urlencode()}")
    limit = settings.LOG_BULK_REPLAY_MAX
    if request.method == "POST":
        summary = replays.replay_many(filterset.qs, request.user, limit)
        note = f" (capped at {limit}: replay again for the rest)" if summary.capped else ""
        messages.success(request, f"Replayed {summary.replayed} deliveries{note}.")
        return redirect(f"{reverse('logs:deliveries')}?{_query(request, status=None)}")
    matching = replays.replayable(filterset.qs).values_list("pk", flat=True)[: limit + 1]
    count = len(matching)
    return _render(
        request, "bulk_replay.html", "Replay deliveries", filter=filterset,
        count=min(count, limit), capped=count > limit, query=request.GET.urlencode(),
    )  # fmt: skip


def _remap_message(request: HttpRequest, outcome: remapping.Remapped) -> None:
    if outcome.sent:
        messages.success(request, f"Re-mapped with mapping v{outcome.version} and queued.")
        return
    problems = "; ".join(f"{p.target}: {p.reason}" for p in outcome.result.problems)
    messages.error(request, f"Mapping v{outcome.version} still rejects it: {problems}")


@log_view(REPLAY)
def remap_delivery(request: HttpRequest, pk) -> HttpResponse:
    """GET: what the current mapping makes of this delivery. POST: re-map it and send."""
    delivery = get_object_or_404(Delivery.objects.select_related("mapping_set"), pk=pk)
    if request.method == "POST":
        try:
            _remap_message(request, remapping.remap_one(delivery, request.user))
        except NotReplayable as error:
            messages.error(request, str(error))
        return redirect("logs:delivery", pk=delivery.pk)
    found = remap_preview.preview(Delivery.objects.filter(pk=delivery.pk), limit=1)
    return _render(
        request, "remap_replay.html", "Re-map and send", preview=found,
        version=delivery.mapping_set.version, query="",
        cancel=reverse("logs:delivery", kwargs={"pk": delivery.pk}),
    )  # fmt: skip


@log_view(REPLAY)
def bulk_remap(request: HttpRequest) -> HttpResponse:
    """GET: what the current mapping makes of the filtered view. POST: re-map and send them."""
    filterset = _deliveries(request)
    if not filterset.is_valid():
        return redirect(f"{reverse('logs:deliveries')}?{request.GET.urlencode()}")
    limit = settings.LOG_BULK_REPLAY_MAX
    if request.method == "POST":
        summary = remapping.remap_many(filterset.qs, request.user, limit)
        note = f" (capped at {limit}: re-map again for the rest)" if summary.capped else ""
        messages.success(
            request,
            f"Re-mapped and queued {summary.sent} deliveries; "
            f"{summary.still_rejected} still rejected{note}.",
        )
        return redirect(f"{reverse('logs:deliveries')}?{_query(request, status=None)}")
    return _render(
        request, "remap_replay.html", "Re-map and send deliveries",
        preview=remap_preview.preview(filterset.qs, limit), query=request.GET.urlencode(),
        cancel=f"{reverse('logs:deliveries')}?{request.GET.urlencode()}",
    )  # fmt: skip


@log_view(VIEW_LOG)
def dashboard_page(request: HttpRequest) -> HttpResponse:
    window = dashboard.WINDOWS.get(request.GET.get("window", "day"), dashboard.WINDOWS["day"])
    figures = dashboard_figures.for_page(window)
    return _render(
        request, "dashboard.html", "Dashboard", window=window, windows=dashboard.WINDOWS,
        rows=[(series, charts.stacked_bars(series, window)) for series in figures.series],
        environments=environment_health.environment_health(figures.series),
        queue=dashboard.queue(), figures=figures,
        refresh_seconds=settings.DASHBOARD_REFRESH_SECONDS,
        braze_reasons=figures.braze_reasons, rejection_reasons=figures.rejection_reasons,
        recent_failures=dashboard.recent_failures(), legend=charts.LEGEND,
        data_points=figures.data_points, data_point_days=data_point_usage.DAYS,
    )  # fmt: skip


@log_view("mappings.view_mappingset")
def config_changes(request: HttpRequest) -> HttpResponse:
    changes = config_history.recent_changes()
    return _render(request, "changes.html", "Configuration changes", changes=changes)
