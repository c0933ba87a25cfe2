"""Links to our own pages in what is read outside the browser (alert messages, command output):
absolute on ``SITE_URL`` when it is set, the path alone when it is not (production's default,
where only the deployer knows the public address)."""

from django.conf import settings


def absolute(path: str) -> str:
    """``path`` (from ``reverse``, with any query) on the site's public address."""
    return f"{settings.SITE_URL.rstrip('/')}{path}"
