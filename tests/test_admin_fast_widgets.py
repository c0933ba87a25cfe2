"""The rows table's fast widgets write the HTML Django's widget templates write."""

import re

import pytest
from django import forms

from mappings.admin import fast_widgets
from mappings.admin.widgets import SuggestedInput, TargetPicker, TransformsEditor

ATTRS = {"id": "id_rows-0-x", "data-note": 'say "hi" & <go>'}
CASES = [
    (forms.NumberInput(), fast_widgets.FastNumberInput(), 7),
    (forms.NumberInput(), fast_widgets.FastNumberInput(), None),
    (forms.CheckboxInput(), fast_widgets.FastCheckbox(), True),
    (forms.CheckboxInput(), fast_widgets.FastCheckbox(), False),
    (forms.HiddenInput(), fast_widgets.FastHidden(), "12"),
    (forms.Select(choices=[("set", "set"), ("add", "add <x>")]), fast_widgets.FastSelect(), "add"),
    (forms.TextInput(attrs={"list": "seen-paths", "size": 28}), SuggestedInput("seen-paths"),
     'user."name"'),
    (forms.Textarea(attrs={"rows": 2, "cols": 24, "data-transforms-editor": ""}),
     TransformsEditor(), '["trim"]'),
    (forms.TextInput(attrs={"size": 18, "data-target-picker": ""}), TargetPicker(), "home_city"),
]  # fmt: skip


def _tags(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


@pytest.mark.parametrize(("template_widget", "fast_widget", "value"), CASES)
def test_a_fast_widget_renders_what_its_template_renders(template_widget, fast_widget, value):
    if isinstance(fast_widget, forms.Select):
        fast_widget.choices = template_widget.choices

    fast = fast_widget.render("rows-0-x", value, ATTRS)

    assert _tags(fast) == _tags(template_widget.render("rows-0-x", value, ATTRS))
    assert "&lt;go&gt;" in fast and "<go>" not in fast


def test_an_empty_error_list_renders_nothing_and_a_full_one_its_messages():
    assert str(fast_widgets.QuietErrorList()) == ""
    assert "Row 3 already sends" in str(fast_widgets.QuietErrorList(["Row 3 already sends"]))
