"""The mapping set's rows table: each row's field cells built in Python.

Django's tabular inline template spends about a dozen template nodes per cell (fieldsets, lines,
errors, readonly checks); with 100 rows of 8 fields that was most of the page's server time
(bench/mapping_page.py). ``row_cells`` walks the same public structure the template walks
(an inline admin form yields fieldsets, a fieldset lines, a line fields) and writes the same
cells, each value escaped or already safe HTML from its widget.
"""

import html

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def _cell(field) -> str:
    if field.is_readonly:
        name, hidden, body = field.field["name"], False, f"<p>{field.contents()}</p>"
    else:
        bound = field.field
        name, hidden = bound.name, bound.is_hidden
        body = f"{bound.errors.as_ul()}{bound}"
    classes = f"field-{html.escape(name)}" + (" hidden" if hidden else "")
    return f'<td class="{classes}">{body}</td>'


@register.simple_tag
def row_cells(inline_admin_form) -> SafeString:
    """The ``<td>`` of each field of one row of a tabular inline."""
    cells = [_cell(field) for fieldset in inline_admin_form for line in fieldset for field in line]
    # Each cell is built from escaped names and the widgets' and errors' own safe HTML.
    return mark_safe("".join(cells))  # noqa: S308
