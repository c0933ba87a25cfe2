"""The admin's "Add from a platform preset" page: platform, slug, name, environment -> a new set.

The set is written by config_io.create_from_preset (the import path), then the admin lands on the
set's normal change page to edit it. Thin: the form checks the input, config_io does the rest.
"""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from mappings import presets
from mappings.management import config_io
from mappings.models import Environment, MappingSet


class PresetForm(forms.Form):
    platform = forms.ChoiceField(
        choices=[(platform, platform) for platform in presets.platforms()],
        help_text="The bot platform whose usual parameters the new set maps",
    )
    slug = forms.SlugField(max_length=80, help_text="The set's URL part: "
                           "/api/v1/platforms/<platform>/<slug>/")  # fmt: skip
    name = forms.CharField(max_length=200, required=False, help_text="Empty: the preset's name")
    environment = forms.ModelChoiceField(Environment.objects.order_by("name"))

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if MappingSet.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"A mapping set '{slug}' already exists.")
        return slug


def page(request: HttpRequest, context: dict) -> HttpResponse:
    """Show the form; on a valid POST create the set and go to its change page."""
    form = PresetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = _create(form)
        if created is not None:
            platform = form.cleaned_data["platform"]
            messages.success(
                request, f"Created {created} from the {platform} preset; edit it here."
            )
            return redirect("admin:mappings_mappingset_change", created.pk)
    descriptions = [
        (platform, presets.preset(platform).description) for platform in presets.platforms()
    ]
    context = {**context, "form": form, "descriptions": descriptions}
    return TemplateResponse(request, "admin/mappings/mappingset/add_from_preset.html", context)


def _create(form: PresetForm) -> MappingSet | None:
    data = form.cleaned_data
    try:
        return config_io.create_from_preset(
            data["platform"], slug=data["slug"], environment=data["environment"].name,
            name=data["name"] or None,
        )  # fmt: skip
    except config_io.InvalidConfig as error:
        for problem in error.problems:
            field = problem.location.split(".", 1)[0]
            if field in form.fields:
                form.add_error(field, problem.message)
            else:
                form.add_error(None, str(problem))
        return None
