"""The mapping set's change page edits a draft; only "Publish" makes it live.

The form (the set's fields and its row inline) is turned into the set's config document
(docs/config-format.md). "Save draft" keeps that document as the set's one draft; the page then
shows the draft: the row inline is built from the draft's rows (as new rows, since a draft row is
not a saved row), and a hidden ``_edit_base`` field says which one the form was built from, so a
post is read the way its page was drawn even if a draft appeared meanwhile. "Publish" writes the
document through the same code as ``import_config`` (history, version bump, version snapshot).
"""

from typing import Any

from django import forms
from django.db import transaction
from django.forms.models import BaseInlineFormSet

from mappings.admin import editor_context, fast_widgets
from mappings.management import config_io
from mappings.models import Environment, FieldMapping, MappingSet, MappingVersion

_ROW_FIELDS = {
    "source": "source_path", "source_type": "source_type", "target": "target_attribute",
    "operation": "operation", "transforms": "transforms", "required": "required",
    "sensitive": "is_sensitive",
}  # fmt: skip


def edited_draft(request, mapping_set: MappingSet | None) -> MappingVersion | None:
    """The draft the page shows (GET), or the one the posted form was built from."""
    if mapping_set is None or mapping_set.pk is None:
        return None
    if request.method == "POST" and request.POST.get("_edit_base") != "draft":
        return None
    cache = request.__dict__.setdefault("mapping_drafts", {})
    if mapping_set.pk not in cache:
        cache[mapping_set.pk] = MappingVersion.draft_of(mapping_set)
    return cache[mapping_set.pk]


def form_initial(document: dict[str, Any]) -> dict[str, Any]:
    """The set form's values as the draft has them."""
    identifier, delivery = document["identifier"], document.get("delivery", {})
    environment = Environment.objects.filter(name=document["environment"]).first()
    initial = {
        "name": document["name"], "slug": document["slug"],
        "environment": environment.pk if environment else None,
        "is_active": document["is_active"], "braze_partner": document["partner"],
        "on_problem": document["on_problem"], "identifier_type": identifier["type"],
        "identifier_source_path": identifier["source"],
        "identifier_transforms": identifier["transforms"],
        "alias_label": identifier["alias_label"],
    }  # fmt: skip
    for key, field in config_io.DELIVERY_FIELDS.items():
        if key in delivery:
            initial[field] = delivery[key]
    return initial


def row_initial(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The draft's rows as the row inline's initial values, numbered in their order."""
    return [
        {"position": position, **{field: row[key] for key, field in _ROW_FIELDS.items()}}
        for position, row in enumerate(document.get("rows", []))
    ]


def _posted_rows(formset) -> list[FieldMapping]:
    rows = []
    deleted = set(formset.deleted_forms) if formset.can_delete else set()
    for form in formset.forms:
        if form in deleted:
            continue
        if form.has_changed() or form.instance.pk:
            rows.append(form.instance)  # a valid form has put its values on its instance
        elif "target_attribute" in form.initial:  # an untouched draft row: not validated
            rows.append(FieldMapping(**form.initial))
    return sorted(rows, key=lambda row: row.position)


def document_from_forms(mapping_set: MappingSet, formsets) -> dict[str, Any]:
    """The config document of the posted form (``mapping_set``: the form's unsaved instance)."""
    rows = [row for formset in formsets for row in _posted_rows(formset)]
    return config_io.mapping_set_document(mapping_set, rows)


def _row_message(problem: config_io.ConfigProblem, document: dict[str, Any]) -> str | None:
    """ "Row 3 (email), target: ..." for a row's problem; None for any other problem."""
    if not problem.location.startswith("mapping.rows["):
        return None
    index, rest = problem.location.removeprefix("mapping.rows[").split("]", 1)
    target = document["rows"][int(index)]["target"]
    return f"Row {int(index) + 1} ({target}){rest.replace('.', ', ', 1)}: {problem.message}"


class DraftRowsFormSet(BaseInlineFormSet):
    """Checks the rows together as an import would (duplicate targets, untouched draft rows).

    New rows start after the last one (not at position 0, which would put them first).
    """

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        kwargs = {**super().get_form_kwargs(index), "error_class": fast_widgets.QuietErrorList}
        if index is not None and index >= self.initial_form_count():
            last = max((row.position for row in self.get_queryset()), default=None)
            offset = index - self.initial_form_count()
            kwargs["initial"] = editor_context.next_positions(last, offset + 1)[offset]
        return kwargs

    def add_fields(self, form, index) -> None:
        super().add_fields(form, index)
        fast_widgets.use_fast_widgets(form, ("id", "mapping_set", "DELETE"))

    def validate_unique(self) -> None:
        """A Braze target sent by two rows: say which rows, at the later row's target."""
        first_row: dict[str, int] = {}
        messages = []
        for number, form in enumerate(self.forms, start=1):
            if form in self.deleted_forms or not form.is_valid():
                continue
            target = form.cleaned_data.get("target_attribute") or form.initial.get(
                "target_attribute"
            )
            if not target:
                continue
            if target not in first_row:
                first_row[target] = number
                continue
            said = f"row {first_row[target]} already sends to {target}; one row per Braze target"
            form.add_error("target_attribute", said[0].upper() + said[1:])
            messages.append(f"Row {number} ({target}), Braze target: {said}")
        if messages:
            raise forms.ValidationError(messages)
        super().validate_unique()

    def clean(self) -> None:
        super().clean()
        if any(self.errors) or self.instance.environment_id is None:
            return  # each row's (or the set form's) own errors first
        document = document_from_forms(self.instance, [self])
        messages = [_row_message(p, document) for p in config_io.mapping_set_problems(document)]
        if any(messages):
            raise forms.ValidationError([message for message in messages if message])


def publish(mapping_set: MappingSet, document: dict[str, Any], note: str, author) -> MappingVersion:
    """Make ``document`` live the way an import does (history, version bump, snapshot); the
    draft it came from is done with."""
    with transaction.atomic():
        version = config_io.write_mapping_set(
            document, target=mapping_set, note=note, author=author
        )
        mapping_set.versions.filter(status=MappingVersion.Status.DRAFT).delete()
    return version
