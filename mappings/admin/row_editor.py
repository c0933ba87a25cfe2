"""The mapping set page's row editor: the engine's catalogue for its script, rows at the end.

The script (static/mappings/row_editor.js) draws transforms and targets as choices; what it
offers comes from ``mappings.engine.catalogue``, put in the page once as JSON here.
"""

from typing import Any

from mappings.engine import catalogue


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
