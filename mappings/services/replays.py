"""Replaying by hand: one delivery or a filtered set, each replay logged with who asked.

Every replay goes through ``delivery.replay`` (a new attempt with ``triggered_by``); this module
only adds the bulk loop, its bound, and the operator log line.
"""

import logging
from dataclasses import dataclass

from django.db.models import QuerySet

from mappings.models import Delivery
from mappings.models.audit import REPLAYABLE_STATUSES
from mappings.services import delivery as delivery_service

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplaySummary:
    replayed: int
    skipped: int
    capped: bool


def replay_one(delivery: Delivery, user) -> None:
    """Replay ``delivery`` as ``user``; raises ``NotReplayable`` for other statuses."""
    delivery_service.replay(delivery, triggered_by=user)
    logger.info("Delivery %s replayed by %s", delivery.pk, user)


def replayable(queryset: QuerySet) -> QuerySet:
    return queryset.filter(status__in=REPLAYABLE_STATUSES)


def replay_many(queryset: QuerySet, user, limit: int) -> ReplaySummary:
    """Replay up to ``limit`` replayable deliveries of ``queryset``, oldest first."""
    ordered = replayable(queryset).order_by("created_at", "pk").values_list("pk", flat=True)
    ids = list(ordered[: limit + 1])
    replayed = skipped = 0
    for pk in ids[:limit]:
        delivery = Delivery.objects.select_related("environment__credential").get(pk=pk)
        try:
            replay_one(delivery, user)
            replayed += 1
        except delivery_service.NotReplayable:
            skipped += 1  # someone else replayed it meanwhile
    return ReplaySummary(replayed, skipped, capped=len(ids) > limit)
