"""Widgets that render in Python rather than through their templates, for the rows table.

A mapping set's page draws about ten widgets per row; through Django's widget templates that is
about a millisecond each, most of the page's time with 100 rows (bench/mapping_page.py). These
build the same HTML from the same ``get_context`` (attributes, value, choices), escaped by the
standard library's ``html.escape``; they cover the plain cases the rows table uses (no option
groups).
"""

import html

from django import forms
from django.forms.utils import ErrorList
from django.utils.safestring import SafeString, mark_safe


def flatatt(attrs: dict) -> SafeString:
    """`` name="value"`` pairs as Django's attrs.html writes them (True: the bare name; False and
    None: left out), escaped."""
    parts = []
    for name, value in attrs.items():
        if value is True:
            parts.append(f" {html.escape(name)}")
        elif value is not False and value is not None:
            parts.append(f' {html.escape(name)}="{html.escape(str(value))}"')
    return mark_safe("".join(parts))  # noqa: S308 - each name and value is escaped just above


class QuietErrorList(ErrorList):
    """An error list that renders nothing without its template when it is empty (most are)."""

    def render(self, *args, **kwargs) -> str:
        return super().render(*args, **kwargs) if self.data else ""


class DirectRender:
    """Mixin for an input or textarea widget: its HTML without a template."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        widget = self.get_context(name, value, attrs)["widget"]
        attributes, name = flatatt(widget["attrs"]), _escape(name)
        if widget["template_name"].endswith("textarea.html"):
            text = _escape(widget["value"] or "")
            return _safe(f'<textarea name="{name}"{attributes}>\n{text}</textarea>')
        value = "" if widget["value"] is None else f' value="{_escape(widget["value"])}"'
        kind = _escape(widget["type"])
        return _safe(f'<input type="{kind}" name="{name}"{value}{attributes}>')


class FastSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None) -> str:
        widget = self.get_context(name, value, attrs)["widget"]
        options = [option for _, group, _ in widget["optgroups"] for option in group]
        rows = "".join(
            f'<option value="{_escape(o["value"])}"{" selected" if o["selected"] else ""}>'
            f"{_escape(o['label'])}</option>"
            for o in options
        )
        attributes = flatatt(widget["attrs"])
        return _safe(f'<select name="{_escape(name)}"{attributes}>{rows}</select>')


def _escape(value) -> str:
    return html.escape(str(value))


def _safe(text: str) -> SafeString:
    """Mark HTML built here safe: every value in it went through ``_escape`` or ``flatatt``."""
    return mark_safe(text)  # noqa: S308 - see above


class FastNumberInput(DirectRender, forms.NumberInput):
    pass


class FastCheckbox(DirectRender, forms.CheckboxInput):
    pass


class FastHidden(DirectRender, forms.HiddenInput):
    pass


def _fast(widget: forms.Widget) -> forms.Widget:
    """The fast twin of a hidden input or a checkbox (others are left as they are)."""
    for slow, fast in ((forms.HiddenInput, FastHidden), (forms.CheckboxInput, FastCheckbox)):
        if type(widget) is slow:
            twin = fast(attrs=widget.attrs)
            twin.is_required = widget.is_required
            return twin
    return widget


def use_fast_widgets(form: forms.BaseForm, names: tuple[str, ...]) -> None:
    """Swap the formset's own fields (the row id, its set, Delete) for their fast twins."""
    for name in names:
        if name in form.fields:
            form.fields[name].widget = _fast(form.fields[name].widget)


# The row form's own fields (the admin passes these to the row formset).
ROW_WIDGETS = {
    "position": FastNumberInput(),
    "source_type": FastSelect(),
    "operation": FastSelect(),
    "required": FastCheckbox(),
    "is_sensitive": FastCheckbox(),
}


def html_lines(line: str, rows) -> SafeString:
    """``format_html_join("", line, rows)`` for hundreds of rows: each value escaped once with
    the standard library rather than through ``format_html``'s per-value lazy checks (the
    mapping page lists up to 500 seen paths twice)."""
    escape = html.escape
    text = "".join(line.format(*(escape(str(value)) for value in row)) for row in rows)
    return mark_safe(text)  # noqa: S308 - every value is escaped just above; ``line`` is ours
