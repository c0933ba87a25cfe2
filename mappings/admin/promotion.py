"""The "Promote to another environment" page: pick where, see what would change, confirm.

The diff is planned again when the promotion is confirmed; if it is not the one the person saw
(someone published either side meanwhile), nothing is written and the new diff is shown.
"""

import hashlib
import json
from typing import Any

from django import forms
from django.core.validators import validate_slug

from mappings.management import config_io, promotion
from mappings.models import Environment, MappingSet


class PromotionForm(forms.Form):
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.order_by("name"), label="Target environment"
    )
    target_slug = forms.CharField(
        label="Target mapping set (slug)",
        max_length=80,
        required=False,
        validators=[validate_slug],
        help_text="Its ingest URL in the target environment. Empty: <slug>-<environment>; an "
        "existing set there is updated, else it is created.",
    )
    note = forms.CharField(label="Note (kept with the new version)", required=False)

    def __init__(self, *args, source: MappingSet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["environment"].queryset = Environment.objects.exclude(
            pk=source.environment_id
        ).order_by("name")


def fingerprint(planned: promotion.Promotion) -> str:
    """Names the diff a person saw, so a confirmation applies that diff and no other."""
    text = json.dumps([planned.document, planned.change.lines()], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def handle(request, source: MappingSet) -> dict[str, Any]:
    """The page's context; ``applied`` holds the new version once a promotion was written."""
    form = PromotionForm(request.POST or None, source=source)
    context: dict[str, Any] = {"form": form, "planned": None, "applied": None, "problems": []}
    if request.method != "POST" or not form.is_valid():
        return context
    environment = form.cleaned_data["environment"]
    slug = form.cleaned_data["target_slug"] or promotion.default_target_slug(source, environment)
    try:
        planned = promotion.plan(source, environment, slug)
    except promotion.PromotionRefused as error:
        context["problems"] = [str(error)]
        return context
    except config_io.InvalidConfig as error:
        context["problems"] = [str(problem) for problem in error.problems]
        return context
    context |= {"planned": planned, "fingerprint": fingerprint(planned), "target_slug": slug}
    confirmed = "_apply" in request.POST and request.POST.get("shown") == context["fingerprint"]
    if confirmed and planned.diff:
        context["applied"] = promotion.apply(
            planned, note=form.cleaned_data["note"], author=request.user
        )
    elif "_apply" in request.POST and planned.diff:
        context["problems"] = ["What the promotion would change is not what you saw: check again."]
    return context
