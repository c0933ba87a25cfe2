"""Readiness checks for load balancers: the database, the broker (when one is configured) and
the queue depth (deliveries that may still reach Braze without anyone acting).

Each check is bounded by a short timeout, so a probe never hangs on a dead dependency.
"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

from mappings.models import Delivery
from mappings.models.audit import OPEN_STATUSES

BROKER_TIMEOUT_SECONDS = 1.0


@dataclass
class Readiness:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    queue_depth: int | None = None

    @property
    def ready(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ready else "unavailable",
            "checks": self.checks,
            "queue_depth": self.queue_depth,
        }


def _database() -> tuple[dict[str, Any], int | None]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        depth = Delivery.objects.filter(status__in=OPEN_STATUSES).count()
    except DatabaseError as error:
        # The exception class only: a driver message may quote the connection string.
        return {"ok": False, "error": type(error).__name__}, None
    return {"ok": True}, depth


def _broker() -> dict[str, Any]:
    url = getattr(settings, "CELERY_BROKER_URL", None)
    if not url:
        return {"ok": True, "configured": False}
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return {"ok": True, "configured": True, "checked": False}
    import redis  # only needed when a Redis broker is configured

    try:
        client = redis.Redis.from_url(
            url,
            socket_timeout=BROKER_TIMEOUT_SECONDS,
            socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        )
        client.ping()
    except (redis.RedisError, OSError) as error:
        return {"ok": False, "configured": True, "error": type(error).__name__}
    return {"ok": True, "configured": True, "checked": True}


def readiness() -> Readiness:
    database, depth = _database()
    return Readiness(checks={"database": database, "broker": _broker()}, queue_depth=depth)
