"""Admin forms: the checks a person's input gets before it is saved.

The mapping set and row forms ask the mapping engine whether the configuration compiles, and
show each problem at the field it belongs to; the models themselves stay plain data.
"""

import json
import re

from django import forms

from mappings import braze_endpoints
from mappings.admin.widgets import DatalistInput, SecretInput, TransformsEditor
from mappings.engine import mapping
from mappings.engine.spec import MappingSpec, RowSpec
from mappings.models import (
    AlertRule,
    ApiClient,
    BrazeCredential,
    Environment,
    FieldMapping,
    MappingSet,
)
from mappings.models.alerts import validate_webhook_url

# Where the engine's identifier locations show in the mapping set form.
IDENTIFIER_FIELDS = {
    "identifier.source": "identifier_source_path",
    "identifier.alias_label": "alias_label",
    "identifier.type": "identifier_type",
    "on_problem": "on_problem",
}
# Where the engine's row locations (rows[i].<part>) show in the row form.
ROW_FIELDS = {"source": "source_path", "target": "target_attribute", "transforms": "transforms"}
# Transform names typed without the JSON around them: "trim" or "trim, lower".
_BARE_NAMES = re.compile(r"[a-z_]+(?:\s*,\s*[a-z_]+)*")


class TransformsField(forms.JSONField):
    """The transforms' JSON list; bare names (``trim, lower``) are read as that list."""

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, initial=list, widget=TransformsEditor(), **kwargs)

    def to_python(self, value):
        if isinstance(value, str) and _BARE_NAMES.fullmatch(value.strip()):
            value = json.dumps([name.strip() for name in value.split(",")])
        return super().to_python(value)


class EnvironmentForm(forms.ModelForm):
    rest_endpoint = forms.URLField(
        label="Braze REST endpoint",
        assume_scheme="https",
        widget=DatalistInput(braze_endpoints.KNOWN_REST_ENDPOINTS, "braze-endpoints"),
        help_text=Environment._meta.get_field("rest_endpoint").help_text,
    )

    class Meta:
        model = Environment
        fields = ["name", "rest_endpoint"]


class BrazeCredentialForm(forms.ModelForm):
    api_key = forms.CharField(
        label="REST API key",
        required=False,
        widget=SecretInput(),
        help_text="Needs the users.track permission. Stored encrypted; only the last 4 "
        "characters are ever shown again. Leave blank to keep the current key.",
    )

    class Meta:
        model = BrazeCredential
        fields = ["environment"]

    def clean(self) -> dict:
        data = super().clean()
        if not self.instance.pk and not data.get("api_key"):
            self.add_error("api_key", "Enter the Braze REST API key")
        return data

    def save(self, commit: bool = True) -> BrazeCredential:
        if self.cleaned_data.get("api_key"):
            self.instance.set_api_key(self.cleaned_data["api_key"].strip())
        return super().save(commit)


class AlertRuleForm(forms.ModelForm):
    webhook_url = forms.CharField(
        label="Chat webhook URL",
        required=False,
        widget=SecretInput(),
        validators=[validate_webhook_url],
        help_text="A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat). It holds "
        "a token: stored encrypted, only its last 4 characters are shown again. Leave blank to "
        "keep the current one.",
    )
    remove_webhook = forms.BooleanField(
        required=False, label="Remove the webhook", help_text="Send by email only from now on"
    )

    class Meta:
        model = AlertRule
        fields = [
            "name", "kind", "environment", "mapping_set", "threshold", "window_minutes",
            "min_calls", "cooldown_minutes", "email_recipients", "is_active",
        ]  # fmt: skip

    def clean(self) -> dict:
        # Set before the model's own checks run (they ask whether any channel is left).
        data = super().clean()
        if data.get("webhook_url"):
            self.instance.set_webhook_url(data["webhook_url"].strip())
        elif data.get("remove_webhook"):
            self.instance.set_webhook_url("")
        return data


class ApiClientForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ["name", "is_active", "expires_at", "rate_limit", "mapping_sets"]


class MappingSetForm(forms.ModelForm):
    identifier_transforms = TransformsField(
        help_text=MappingSet._meta.get_field("identifier_transforms").help_text
    )
    # The draft's values when the page edits a draft (the admin sets it; see admin/drafts.py).
    draft_initial: dict = {}

    class Meta:
        model = MappingSet
        fields = [
            "name", "slug", "environment", "is_active", "braze_partner", "identifier_type",
            "identifier_source_path", "identifier_transforms", "alias_label", "on_problem",
            "delivery_mode", "sync_budget_seconds", "dedup_unchanged_attributes", "partial_success",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial.update(self.draft_initial)

    def clean(self) -> dict:
        """The identifier as the engine sees it (rows are checked by their own form)."""
        data = super().clean()
        spec = MappingSpec(
            identifier_path=data.get("identifier_source_path") or "",
            rows=(),
            partner=data.get("braze_partner") or None,
            identifier_type=data.get("identifier_type") or "",
            alias_label=data.get("alias_label") or "",
            on_problem=data.get("on_problem") or "",
        )
        for problem in mapping.validate_spec(spec):
            if problem.location in IDENTIFIER_FIELDS:
                self.add_error(IDENTIFIER_FIELDS[problem.location], problem.message)
            elif not problem.location.startswith("identifier.transforms"):
                self.add_error(None, problem.message)  # transforms: the field's own validator
        return data


class FieldMappingForm(forms.ModelForm):
    transforms = TransformsField(help_text=FieldMapping._meta.get_field("transforms").help_text)

    class Meta:
        model = FieldMapping
        fields = [
            "position", "source_type", "source_path", "transforms", "target_attribute",
            "operation", "required", "is_sensitive",
        ]  # fmt: skip

    def clean(self) -> dict:
        data = super().clean()
        row = RowSpec(
            source_path=data.get("source_path") or "",
            target=data.get("target_attribute") or "",
            required=bool(data.get("required")),
            source_type=data.get("source_type") or "path",
            transforms=tuple(data.get("transforms") or ()),
            operation=data.get("operation") or "set",
            sensitive=bool(data.get("is_sensitive")),
        )
        for problem in mapping.validate_row(row, self._identifier_type()):
            if problem.field == "transforms" and "transforms" in self.errors:
                continue  # the field's own validator has said it (once is enough)
            self.add_error(ROW_FIELDS.get(problem.field), problem.message)
        return data

    def _identifier_type(self) -> str:
        if self.instance.mapping_set_id:
            return self.instance.mapping_set.identifier_type
        return "external_id"
