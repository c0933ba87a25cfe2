"""Small admin presentation helpers: pretty JSON and write-only secret inputs."""

import json
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join

from mappings.admin.fast_widgets import DirectRender


def pretty_json(value: Any) -> str:
    """Render JSON (or a JSON string) indented inside <pre>, escaped."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return format_html('<pre class="bridge-json">{}</pre>', value)
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
    return format_html('<pre class="bridge-json">{}</pre>', text)


class DatalistInput(forms.URLInput):
    """A URL input that suggests known values but accepts any (validated elsewhere)."""

    def __init__(self, choices: list[str], list_id: str, attrs: dict | None = None):
        super().__init__(attrs={**(attrs or {}), "list": list_id, "size": 60})
        self.choices = choices
        self.list_id = list_id

    def render(self, name, value, attrs=None, renderer=None) -> str:
        field = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">', ((c,) for c in self.choices))
        return format_html('{}<datalist id="{}">{}</datalist>', field, self.list_id, options)


class SecretInput(forms.PasswordInput):
    """A password input that never renders a stored value back into the page."""

    def __init__(self, attrs: dict | None = None):
        super().__init__(
            attrs={"autocomplete": "off", "size": 60, **(attrs or {})}, render_value=False
        )


class SuggestedInput(DirectRender, forms.TextInput):
    """A text input that suggests the options of a <datalist> rendered elsewhere on the page."""

    def __init__(self, list_id: str, attrs: dict | None = None):
        super().__init__(attrs={**(attrs or {}), "list": list_id, "size": 28})


class TransformsEditor(DirectRender, forms.Textarea):
    """The transforms' JSON list, which the row editor's script shows as a list of steps.

    The textarea stays the field (what is posted, and what works without JavaScript); the script
    (static/mappings/row_editor.js, loaded by the mapping set's change form: not as widget
    media, which the admin would merge once per row) draws the steps and writes changes back.
    """

    def __init__(self, attrs: dict | None = None):
        super().__init__(
            attrs={"rows": 2, "cols": 24, "data-transforms-editor": "", **(attrs or {})}
        )


class TargetPicker(DirectRender, forms.TextInput):
    """The Braze target as text, which the row editor's script offers as a grouped choice."""

    def __init__(self, attrs: dict | None = None):
        super().__init__(attrs={"size": 18, "data-target-picker": "", **(attrs or {})})
