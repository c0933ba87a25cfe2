"""What the mapping set page's row editor is given: the engine's catalogue, positions, paths.

The script (static/mappings/row_editor.js) draws transforms and targets as choices; what it
offers comes from ``mappings.engine.catalogue``, put in the page once as JSON here. The source
field suggests the paths seen in received conversations, with their types and an example.
"""

from typing import Any

from mappings.admin import draft_preview
from mappings.engine import catalogue
from mappings.ingest import discovery
from mappings.models import MappingSet


def page_context() -> dict[str, Any]:
    """The catalogues the change form renders with ``json_script``."""
    return {
        "transform_catalogue": catalogue.transform_catalogue(),
        "target_catalogue": catalogue.target_catalogue(),
    }


def next_positions(last: int | None, count: int) -> list[dict[str, int]]:
    """Initial positions for ``count`` new rows: after the last saved one, in order."""
    start = 0 if last is None else last + 1
    return [{"position": start + offset} for offset in range(count)]


EXAMPLE_CHARS = 40


def path_suggestions(mapping_set: MappingSet) -> list[tuple[str, str]]:
    """(path, "string · e.g. Porto") for each path seen in the set's conversations, the example
    taken from the newest accepted one; a path a sensitive row reads shows no example."""
    sample = draft_preview.default_sample(draft_preview.recent_deliveries(mapping_set))
    examples = discovery.examples_of(sample.received_payload) if sample else {}
    hidden = set(mapping_set.rows.filter(is_sensitive=True).values_list("source_path", flat=True))
    suggestions = []
    for path, types in mapping_set.seen_paths.values_list("path", "types"):
        label = ", ".join(types)
        if path in examples and path not in hidden:
            example = str(examples[path])
            cut = example[:EXAMPLE_CHARS] + ("…" if len(example) > EXAMPLE_CHARS else "")
            label += f" · e.g. {cut}"
        suggestions.append((path, label))
    return suggestions
