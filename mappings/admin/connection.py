"""The environment's "Test connection": its button's view and the admin list action.

The check itself is in ``mappings.delivery.connection_check``; this only asks it and shows the
verdict as an admin message (never the key: verdicts carry none).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect

from mappings.delivery import connection_check
from mappings.models import Environment


def message_level(verdict: connection_check.Verdict) -> int:
    if verdict.ok:
        return messages.SUCCESS
    return messages.WARNING if verdict.try_later else messages.ERROR


def report(request: HttpRequest, environment: Environment) -> connection_check.Verdict:
    """Run the test for ``environment`` and tell the admin what it found."""
    verdict = connection_check.check_connection(environment)
    messages.add_message(
        request, message_level(verdict), f"Test connection, {environment.name}: {verdict}"
    )
    return verdict


def connection_test_page(model_admin, request: HttpRequest, pk: int) -> HttpResponse:
    """The button's target: POST only (it calls Braze), for those who may change the
    environment; the verdict is shown on the environment's page."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    environment = get_object_or_404(Environment, pk=pk)
    if not model_admin.has_change_permission(request, environment):
        raise PermissionDenied
    report(request, environment)
    return redirect("admin:mappings_environment_change", environment.pk)
