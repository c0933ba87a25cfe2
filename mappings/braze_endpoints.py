"""Which URLs may be saved as a Braze REST endpoint.

An admin-editable URL that the server then calls is an SSRF hole unless it is pinned to the
hosts Braze really serves its REST API from. Loopback is allowed only when
``BRAZE_ALLOW_LOOPBACK_ENDPOINTS`` is on, for the bundled fake Braze.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

# Braze's documented REST hosts, offered as choices in the admin.
KNOWN_REST_ENDPOINTS = [
    *(f"https://rest.iad-0{n}.braze.com" for n in range(1, 9)),
    "https://rest.us-10.braze.com",
    "https://rest.fra-01.braze.eu",
    "https://rest.fra-02.braze.eu",
    "https://rest.au-01.braze.com",
    "https://rest.id-01.braze.com",
    "https://rest.jp-01.braze.com",
    "https://rest.kr-01.braze.com",
]

_BRAZE_REST_HOST = re.compile(r"^rest\.[a-z0-9-]+\.braze\.(com|eu)$")
_LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    """localhost or a loopback address (also used for alert webhooks in local mode)."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_rest_endpoint(url: str) -> None:
    """Raise ``ValidationError`` unless ``url`` is a Braze REST host (or allowed loopback)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError(
            "The endpoint must be a bare host URL, like https://rest.iad-01.braze.com"
        )
    if parts.path not in ("", "/"):
        raise ValidationError("The endpoint must not have a path; /users/track is added for you")
    if is_loopback(host):
        if not settings.BRAZE_ALLOW_LOOPBACK_ENDPOINTS:
            raise ValidationError("Loopback endpoints are only allowed for the local fake Braze")
        if parts.scheme not in ("http", "https"):
            raise ValidationError("The endpoint must be an http(s) URL")
        return
    if parts.scheme != "https":
        raise ValidationError("Braze endpoints must use https")
    if parts.port is not None or not _BRAZE_REST_HOST.match(host):
        raise ValidationError(
            "Not a Braze REST endpoint: use your instance's REST host, like "
            "https://rest.iad-01.braze.com (sdk.* hosts are not REST hosts)"
        )


def normalise(url: str) -> str:
    return url.rstrip("/")
