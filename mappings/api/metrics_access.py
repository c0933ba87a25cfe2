"""Who may read /metrics: ``METRICS_ENABLED``, then a Bearer ``METRICS_TOKEN`` and/or an address
in ``METRICS_ALLOWED_IPS``. In production an enabled endpoint with neither is refused, so
turning it on never publishes the service's traffic to the internet by accident."""

import hmac
from ipaddress import ip_address, ip_network

from django.conf import settings
from django.http import HttpRequest


def refusal(request: HttpRequest) -> tuple[int, str] | None:
    """(HTTP status, reason) when this request may not read the metrics; None when it may."""
    if not settings.METRICS_ENABLED:
        return 404, "Metrics are off (METRICS_ENABLED)"
    token, allowed = settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS
    if settings.PRODUCTION and not token and not allowed:
        return 403, "Set METRICS_TOKEN or METRICS_ALLOWED_IPS to expose metrics in production"
    if token and not _bearer_matches(request, token):
        return 401, "A valid Bearer token (METRICS_TOKEN) is required"
    if allowed and not _address_allowed(request.META.get("REMOTE_ADDR", ""), allowed):
        return 403, "This address is not in METRICS_ALLOWED_IPS"
    return None


def _bearer_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def _address_allowed(address: str, allowed: list[str]) -> bool:
    try:
        remote = ip_address(address)
    except ValueError:
        return False
    return any(remote in ip_network(entry, strict=False) for entry in allowed)
