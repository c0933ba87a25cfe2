"""Promotion: a mapping set's published mapping copied into another environment.

A mapping set lives in one environment (ingest maps with its live rows), so "the prod version
of a set" is a set of its own in prod (``support-bot-prod``), written from the source's
published document through the same path as an import: history on every row and read row, a
new published MappingVersion in the target's environment, the one before superseded. What makes
the target itself is never copied: its slug (its ingest URL), name, environment and on/off
switch.
"""

from dataclasses import dataclass
from typing import Any

from mappings.management import config_diff, config_io, config_plan, read_rows
from mappings.models import Environment, MappingSet, MappingVersion

# Document keys that belong to the target set, not to the mapping being promoted.
TARGET_OWN_KEYS = ("slug", "name", "environment", "is_active")


class PromotionRefused(ValueError):
    """The promotion cannot be made as asked (the message says why, for a person)."""


@dataclass(frozen=True)
class Promotion:
    source: MappingSet
    environment: Environment
    target: MappingSet | None  # None: created by the promotion
    document: dict[str, Any]  # what the target will be
    change: config_plan.SetChange

    @property
    def diff(self) -> config_diff.DocumentDiff:
        return self.change.diff


def default_target_slug(source: MappingSet, environment: Environment) -> str:
    return f"{source.slug}-{environment.name}"[:80]


def published_document(mapping_set: MappingSet) -> dict[str, Any]:
    """The set's published document; its live rows if no version was recorded.

    A version recorded before read rows were part of the document lacks ``lookups.rows``; its
    saved read rows are the published ones then (they were live as soon as they were saved), so
    a promotion carries them instead of leaving the target's as they are.
    """
    live = MappingVersion.live(mapping_set)
    if live is None:
        return config_io.mapping_set_document(mapping_set)
    document = dict(live.document)
    lookups = dict(document.get("lookups") or {})
    if "rows" not in lookups:
        lookups["rows"] = read_rows.rows_document(mapping_set)
        document["lookups"] = lookups
    return document


def plan(source: MappingSet, environment: Environment, target_slug: str) -> Promotion:
    """What promoting ``source`` into ``environment`` as ``target_slug`` would change."""
    if environment.pk == source.environment_id:
        raise PromotionRefused(f"{source.slug} is already in {environment.name}.")
    target = MappingSet.objects.filter(slug=target_slug).select_related("environment").first()
    if target is not None and target.environment_id != environment.pk:
        raise PromotionRefused(
            f"The mapping set '{target_slug}' is in {target.environment.name}, "
            f"not {environment.name}: choose another slug."
        )
    document = dict(published_document(source))
    if target is None:
        own = {"slug": target_slug, "name": source.name, "environment": environment.name,
               "is_active": source.is_active}  # fmt: skip
    else:
        current = config_io.mapping_set_document(target)
        own = {key: current[key] for key in TARGET_OWN_KEYS}
    document.update(own)
    problems = config_io.mapping_set_problems(document)
    if problems:
        raise config_io.InvalidConfig(problems)
    change = config_plan.plan_set(document, target)
    return Promotion(source, environment, target, document, change)


def apply(promotion: Promotion, *, note: str, author=None) -> MappingVersion:
    """Write the planned document into the target as its new published version."""
    text = f"Promoted from {promotion.source.slug} ({promotion.source.environment.name})"
    return config_io.write_mapping_set(
        promotion.document,
        target=promotion.target,
        note=f"{text}: {note}" if note else text,
        author=author,
    )
