"""CSV export of a filtered log view: streamed in keyset chunks, masked like the pages."""

import csv
import json
from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import Model, QuerySet

from mappings.log_pages import queries, redaction
from mappings.models import Delivery, DeliveryAttempt, MappingSet

_ROWS_PER_QUERY = 1000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting with "=" as a formula (CSV injection).
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _rows(queryset: QuerySet, limit: int) -> Iterator[Model]:
    sent, cursor = 0, None
    while sent < limit:
        page = queries.keyset_page(
            queryset, older_than=cursor, size=min(_ROWS_PER_QUERY, limit - sent)
        )
        yield from page.rows
        sent += len(page.rows)
        if not page.older:
            return
        cursor = page.older


DELIVERY_COLUMNS = [
    "created_at", "delivery_id", "status", "environment", "mapping_set", "mapping_version",
    "api_client", "platform", "external_id", "idempotency_key", "reason", "braze_body",
]  # fmt: skip


def _delivery_row(delivery: Delivery, masks: dict[int, redaction.Sensitivity]) -> list[Any]:
    body = redaction.mask_braze_body(delivery.braze_payload, masks[delivery.mapping_set_id])
    return [
        delivery.created_at.isoformat(), delivery.pk, delivery.status, delivery.environment.name,
        delivery.mapping_set.slug, delivery.mapping_version, delivery.api_client or "",
        delivery.platform, delivery.external_id, delivery.idempotency_key, delivery.reason,
        json.dumps(body, ensure_ascii=False) if body is not None else "",
    ]  # fmt: skip


ATTEMPT_COLUMNS = [
    "created_at", "delivery_id", "attempt_number", "environment", "mapping_set", "outcome",
    "http_status", "duration_ms", "error", "triggered_by", "request_body",
]  # fmt: skip


def _attempt_row(attempt: DeliveryAttempt, masks: dict[int, redaction.Sensitivity]) -> list[Any]:
    sensitivity = masks[attempt.mapping_set_id]
    values = redaction.sensitive_values(attempt.request_body, sensitivity)
    body = redaction.mask_braze_body(attempt.request_body, sensitivity)
    return [
        attempt.created_at.isoformat(), attempt.delivery_id, attempt.attempt_number,
        attempt.environment.name, attempt.mapping_set.slug, attempt.outcome,
        attempt.response_status, attempt.duration_ms, redaction.mask_text(attempt.error, values),
        attempt.triggered_by or "", json.dumps(body, ensure_ascii=False),
    ]  # fmt: skip


def csv_lines(
    queryset: QuerySet, columns: list[str], row: Callable[..., list[Any]], limit: int
) -> Iterator[str]:
    """The CSV text of up to ``limit`` rows, newest first, one line at a time."""
    writer = csv.writer(_Echo())
    masks = redaction.sensitivities(set(MappingSet.objects.values_list("pk", flat=True)))
    yield writer.writerow(columns)
    for record in _rows(queryset, limit):
        yield writer.writerow([_cell(value) for value in row(record, masks)])


def delivery_csv(queryset: QuerySet, limit: int) -> Iterator[str]:
    related = queryset.select_related("environment", "mapping_set", "api_client")
    return csv_lines(related, DELIVERY_COLUMNS, _delivery_row, limit)


def attempt_csv(queryset: QuerySet, limit: int) -> Iterator[str]:
    related = queryset.select_related("environment", "mapping_set", "triggered_by")
    return csv_lines(related, ATTEMPT_COLUMNS, _attempt_row, limit)
