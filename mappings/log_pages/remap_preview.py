"""The re-mapping replay's confirmation: how many deliveries, how many the current mapping
would map or still reject, and a few stored bodies against their re-mapped ones, per field.

Nothing is stored or sent here; the per-field comparison is the draft preview's
(``engine.preview.compared_fields``), so both pages show a change the same way.
"""

from dataclasses import dataclass

from django.db.models import QuerySet

from mappings.delivery import remapping
from mappings.engine.preview import FieldOutcome, body_fields, compared_fields
from mappings.log_pages import presenters, redaction
from mappings.models import Delivery

SAMPLE_SIZE = 3


@dataclass(frozen=True)
class Sample:
    delivery: Delivery
    would_send: bool
    problems: list[dict]
    fields: list[FieldOutcome]

    @property
    def changed(self) -> int:
        return sum(outcome.change != "same" for outcome in self.fields)


@dataclass(frozen=True)
class RemapPreview:
    count: int
    capped: bool
    would_map: int
    still_rejected: int
    samples: list[Sample]


def sample(delivery: Delivery) -> Sample:
    """One delivery's stored body (none when rejected) against what the current mapping makes,
    sensitive values masked as on the delivery page."""
    result = remapping.remap(delivery)
    sensitivity = redaction.sensitivity_for(delivery.mapping_set_id)
    stored = redaction.mask_braze_body(delivery.braze_payload, sensitivity)
    remapped = redaction.mask_braze_body(result.payload, sensitivity) if result.ok else None
    fields = compared_fields(body_fields(stored), body_fields(remapped))
    problems = [problem.as_dict() for problem in result.problems]
    return Sample(delivery, result.ok, presenters.problem_rows(problems, sensitivity), fields)


def preview(queryset: QuerySet, limit: int) -> RemapPreview:
    """What ``remapping.remap_many(queryset, ..., limit)`` would do, oldest first as it goes."""
    matching = remapping.remappable(queryset).select_related("mapping_set")
    found = list(matching.order_by("created_at", "pk")[: limit + 1])
    counted = found[:limit]
    would_map = sum(remapping.remap(delivery).ok for delivery in counted[SAMPLE_SIZE:])
    samples = [sample(delivery) for delivery in counted[:SAMPLE_SIZE]]
    would_map += sum(item.would_send for item in samples)
    return RemapPreview(
        count=len(counted),
        capped=len(found) > limit,
        would_map=would_map,
        still_rejected=len(counted) - would_map,
        samples=samples,
    )
