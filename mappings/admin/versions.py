"""Version pages: a mapping set's published versions, each with its rows, read rows and what it
changed."""

from typing import Any

from django.urls import reverse
from django.utils.html import format_html

from mappings.engine import transforms
from mappings.management import config_diff
from mappings.models import MappingSet, MappingVersion


def listing(mapping_set: MappingSet) -> list[dict[str, Any]]:
    """Newest first, each with a one-line summary of what it changed from the one before."""
    versions = list(mapping_set.versions.select_related("author", "environment"))
    published = sorted(
        (v for v in versions if v.status != MappingVersion.Status.DRAFT),
        key=lambda version: version.number,
    )
    rows, previous = [], None
    for version in published:
        diff = config_diff.diff_documents(previous.document if previous else None, version.document)
        rows.append({"version": version, "summary": diff.summary() if previous else "first"})
        previous = version
    return rows[::-1]


def page(version: MappingVersion) -> dict[str, Any]:
    previous = version.previous()
    return {
        "version": version,
        "previous": previous,
        "rows": [_readable(row) for row in version.document.get("rows", [])],
        "read_rows": _read_rows(version.document),
        "diff": config_diff.diff_documents(
            previous.document if previous else None, version.document
        ),
    }


def summary(mapping_set: MappingSet) -> str:
    """The change page's line: what is live, whether a draft is pending, links."""
    live = MappingVersion.live(mapping_set)
    draft = MappingVersion.draft_of(mapping_set)
    versions_url = reverse("admin:mappings_mappingset_versions", args=[mapping_set.pk])
    preview_url = reverse("admin:mappings_mappingset_preview", args=[mapping_set.pk])
    live_text = f"Live: v{mapping_set.version}" + ("" if live else " (not recorded)")
    draft_text = "No draft: the form shows the live mapping."
    if draft is not None:
        who = draft.author or "someone"
        draft_text = f"The form shows the draft saved by {who} (from v{draft.number})."
        if draft.number != mapping_set.version:
            draft_text += f" v{mapping_set.version} was published since: check the diff."
    return format_html(
        '<span id="live-version">{}</span> · <span id="draft-status">{}</span> · '
        '<a href="{}" id="versions-link">All versions</a> · '
        '<a href="{}" id="preview-link">Try the live mapping on the preview page'
        "</a>",
        live_text, draft_text, versions_url, preview_url,
    )  # fmt: skip


def _readable(row: dict[str, Any]) -> dict[str, Any]:
    """A document row with its transforms as a person reads them."""
    return {**row, "transforms": [transforms.label(step) for step in row.get("transforms", [])]}


def _read_rows(document: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The version's read rows as a person reads them; None if it was recorded without them."""
    rows = (document.get("lookups") or {}).get("rows")
    return None if rows is None else [_readable(row) for row in rows]
