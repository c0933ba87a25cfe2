"""Configuration admins: environments, credentials, mapping sets and API clients, with history."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from mappings.admin import connection as admin_connection
from mappings.admin import draft_preview, drafts, editor_context, fast_widgets, promotion, versions
from mappings.admin import presets as admin_presets
from mappings.admin import preview as admin_preview
from mappings.admin.forms import (
    ApiClientForm,
    BrazeCredentialForm,
    EnvironmentForm,
    FieldMappingForm,
    MappingSetForm,
)
from mappings.admin.widgets import SuggestedInput, TargetPicker
from mappings.delivery import connection_check
from mappings.ingest import discovery
from mappings.management import config_io
from mappings.models import (
    ApiClient,
    BrazeCredential,
    Environment,
    FieldMapping,
    MappingSet,
    MappingVersion,
)


@admin.register(Environment)
class EnvironmentAdmin(SimpleHistoryAdmin):
    form = EnvironmentForm
    list_display = ["name", "rest_endpoint", "api_key", "updated_at"]
    list_select_related = ["credential"]
    search_fields = ["name"]
    actions = ["test_connection"]

    def get_urls(self):
        run = self.admin_site.admin_view(self.connection_test_page)
        return [
            path("<int:pk>/test-connection/", run, name="mappings_environment_test_connection"),
            *super().get_urls(),
        ]

    def connection_test_page(self, request, pk: int):
        return admin_connection.connection_test_page(self, request, pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "connection_test_help": connection_check.HELP_TEXT,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Test connection (an empty request: writes nothing)",
                  permissions=["change"])  # fmt: skip
    def test_connection(self, request, queryset) -> None:
        for environment in queryset:
            admin_connection.report(request, environment)

    @admin.display(description="API key")
    def api_key(self, environment: Environment) -> str:
        credential = getattr(environment, "credential", None)
        return credential.masked_key if credential else "(none: add a Braze credential)"


@admin.register(BrazeCredential)
class BrazeCredentialAdmin(SimpleHistoryAdmin):
    form = BrazeCredentialForm
    list_display = ["environment", "masked_key", "updated_at"]
    list_select_related = ["environment"]
    readonly_fields = ["masked_key", "updated_at"]

    def get_fields(self, request, obj=None) -> list[str]:
        if obj and not self.has_change_permission(request, obj):
            # A read-only page renders each field's value, and "api_key" would resolve to the
            # model's api_key() method: the decrypted key. View-only users get the mask only.
            return ["environment", "masked_key", "updated_at"]
        return ["environment", "api_key", *(["masked_key", "updated_at"] if obj else [])]

    @admin.display(description="Current key")
    def masked_key(self, credential: BrazeCredential) -> str:
        return credential.masked_key


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    form = FieldMappingForm
    formset = drafts.DraftRowsFormSet
    # The admin's tabular inline with each row's cells drawn in Python (rows_table.py): the
    # stock template's per-cell nodes were most of the page's time with 100 rows.
    template = "admin/mappings/mappingset/rows_inline.html"
    extra = 1
    fields = [
        "position", "source_type", "source_path", "transforms", "target_attribute", "operation",
        "required", "is_sensitive",
    ]  # fmt: skip

    def get_formset(self, request, obj=None, **kwargs):
        # Source paths seen in this set's conversations are offered as suggestions.
        kwargs["widgets"] = {
            "source_path": SuggestedInput("seen-paths"),
            "target_attribute": TargetPicker(),
            **fast_widgets.ROW_WIDGETS,
        }
        return super().get_formset(request, obj, **kwargs)

    def get_extra(self, request, obj=None, **kwargs) -> int:
        draft = drafts.edited_draft(request, obj)
        return 1 + (len(draft.document.get("rows", [])) if draft else 0)


@admin.register(MappingSet)
class MappingSetAdmin(SimpleHistoryAdmin):
    form = MappingSetForm
    inlines = [FieldMappingInline]
    list_display = ["slug", "name", "environment", "is_active", "row_count", "ingest_url"]
    list_filter = ["is_active", "environment"]
    list_select_related = ["environment"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "environment", "is_active", "braze_partner", "version",
                           "versions_link"]}),
        ("User identifier", {"fields": ["identifier_type", "identifier_source_path",
                                        "identifier_transforms", "alias_label"]}),
        ("Problems", {"fields": ["on_problem"]}),
        ("Delivery", {"fields": ["delivery_mode", "sync_budget_seconds",
                                 "dedup_unchanged_attributes", "partial_success"]}),
        ("Field discovery", {"fields": ["seen_paths", "unmapped_paths"]}),
    ]  # fmt: skip
    readonly_fields = ["version", "versions_link", "seen_paths", "unmapped_paths"]

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        from_preset = self.admin_site.admin_view(self.add_from_preset_view)
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", preview, name="mappings_mappingset_preview"),
            path(
                "<int:pk>/preview-changes/",
                view(self.preview_changes_view),
                name="mappings_mappingset_preview_changes",
            ),
            path(
                "<int:pk>/discard-draft/",
                view(self.discard_draft_view),
                name="mappings_mappingset_discard_draft",
            ),
            path(
                "<int:pk>/versions/", view(self.versions_view), name="mappings_mappingset_versions"
            ),
            path(
                "<int:pk>/versions/<int:number>/",
                view(self.version_view),
                name="mappings_mappingset_version",
            ),
            path("<int:pk>/promote/", view(self.promote_view), name="mappings_mappingset_promote"),
            path("add-from-preset/", from_preset, name="mappings_mappingset_add_from_preset"),
            *super().get_urls(),
        ]

    def add_from_preset_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Add a mapping set from a platform preset",
        }
        return admin_presets.page(request, context)

    def preview_view(self, request, pk: int):
        mapping_set = get_object_or_404(MappingSet, pk=pk)
        if not self.has_view_permission(request, mapping_set):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            **admin_preview.page_context(request, mapping_set),
            "opts": self.model._meta,
            "original": mapping_set,
            "title": f"Preview: {mapping_set.name}",
        }
        return TemplateResponse(request, "admin/mappings/mappingset/preview.html", context)

    def _mapping_set_or_404(self, request, pk: int, permission) -> MappingSet:
        mapping_set = get_object_or_404(MappingSet.objects.select_related("environment"), pk=pk)
        if not permission(request, mapping_set):
            raise PermissionDenied
        return mapping_set

    def _page(self, request, mapping_set: MappingSet, title: str, **context) -> dict:
        return {
            **self.admin_site.each_context(request), "opts": self.model._meta,
            "original": mapping_set, "title": title, **context,
        }  # fmt: skip

    def preview_changes_view(self, request, pk: int):
        """The posted, unsaved change form against conversations (an HTML part for the page)."""
        mapping_set = self._mapping_set_or_404(request, pk, self.has_change_permission)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form, formsets = self._bound_forms(request, mapping_set)
        context = {"form_errors": _form_errors(form, formsets)}
        if not context["form_errors"]:
            document = drafts.document_from_forms(form.instance, formsets)
            context |= draft_preview.changes(mapping_set, document, request.POST)
        return TemplateResponse(request, "admin/mappings/mappingset/preview_changes.html", context)

    def _bound_forms(self, request, mapping_set: MappingSet):
        """The change form and its row formsets, bound to the post, as the change view builds
        them (through the admin's public hooks)."""
        form = self.get_form(request, mapping_set, change=True)(
            request.POST, request.FILES, instance=mapping_set
        )
        form.is_valid()  # puts the posted values on form.instance for the formsets
        formsets = [
            formset_class(**self.get_formset_kwargs(request, form.instance, inline, prefix))
            for formset_class, inline in self.get_formsets_with_inlines(request, form.instance)
            for prefix in [formset_class.get_default_prefix()]
        ]
        return form, formsets

    def discard_draft_view(self, request, pk: int):
        mapping_set = self._mapping_set_or_404(request, pk, self.has_change_permission)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        MappingVersion.objects.filter(mapping_set=mapping_set, status="draft").delete()
        self.message_user(request, "Draft discarded: the page shows the live mapping again.")
        return redirect("admin:mappings_mappingset_change", mapping_set.pk)

    def versions_view(self, request, pk: int):
        mapping_set = self._mapping_set_or_404(request, pk, self.has_view_permission)
        context = self._page(
            request, mapping_set, f"Versions: {mapping_set.name}",
            versions=versions.listing(mapping_set),
        )  # fmt: skip
        return TemplateResponse(request, "admin/mappings/mappingset/versions.html", context)

    def version_view(self, request, pk: int, number: int):
        mapping_set = self._mapping_set_or_404(request, pk, self.has_view_permission)
        version = get_object_or_404(
            mapping_set.versions.exclude(status="draft").select_related("author"), number=number
        )
        context = self._page(
            request, mapping_set, f"{mapping_set.name}: {version.label}",
            **versions.page(version),
        )  # fmt: skip
        return TemplateResponse(request, "admin/mappings/mappingset/version.html", context)

    def promote_view(self, request, pk: int):
        mapping_set = self._mapping_set_or_404(request, pk, self.has_change_permission)
        context = self._page(
            request, mapping_set, f"Promote {mapping_set.name} to another environment",
            **promotion.handle(request, mapping_set),
        )  # fmt: skip
        return TemplateResponse(request, "admin/mappings/mappingset/promote.html", context)

    @admin.display(description="Versions")
    def versions_link(self, mapping_set: MappingSet) -> str:
        if not mapping_set.pk:
            return "Version 1 is published when you save."
        return versions.summary(mapping_set)

    @admin.display(description="Seen source paths")
    def seen_paths(self, mapping_set: MappingSet) -> str:
        seen = editor_context.path_suggestions(mapping_set) if mapping_set.pk else []
        options = fast_widgets.html_lines('<option value="{}">{}</option>', seen)
        summary = f"{len(seen)} paths seen in received conversations (offered as suggestions)"
        return format_html('{}<datalist id="seen-paths">{}</datalist>', summary, options)

    @admin.display(description="Seen but not mapped")
    def unmapped_paths(self, mapping_set: MappingSet) -> str:
        unmapped = discovery.unmapped(mapping_set) if mapping_set.pk else []
        if not unmapped:
            return "None"
        items = fast_widgets.html_lines(
            "<li><code>{}</code> ({})</li>", ((s.path, ", ".join(s.types)) for s in unmapped)
        )
        return format_html('<ul class="unmapped-paths">{}</ul>', items)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        mapping_set = self.get_object(request, object_id)
        if mapping_set is not None:
            extra_context = {
                **(extra_context or {}),
                **draft_preview.page_samples(mapping_set, request.GET.get("delivery")),
                "editing_draft": drafts.edited_draft(request, mapping_set) is not None,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **editor_context.page_context()}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        draft = drafts.edited_draft(request, obj)
        if draft is None:
            return form
        return type(form.__name__, (form,), {"draft_initial": drafts.form_initial(draft.document)})

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        draft = drafts.edited_draft(request, obj)
        if draft is not None:  # the draft's rows, as new rows (see mappings/admin/drafts.py)
            kwargs |= {"queryset": FieldMapping.objects.none(),
                       "initial": drafts.row_initial(draft.document)}  # fmt: skip
        return kwargs

    def save_model(self, request, obj, form, change: bool) -> None:
        if not change:  # a new set is live at once; an existing one changes by publishing
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change: bool) -> None:
        if not change:
            super().save_related(request, form, formsets, change)
            request.mapping_version = config_io.record_version(form.instance, "", request.user)
            return
        document = drafts.document_from_forms(form.instance, formsets)
        saved = MappingSet.objects.get(pk=form.instance.pk)
        if "_publish" in request.POST:
            note = request.POST.get("publish_note", "").strip()
            request.mapping_version = drafts.publish(saved, document, note, request.user)
        else:
            request.mapping_version = MappingVersion.save_draft(saved, document, request.user)

    def construct_change_message(self, request, form, formsets, add=False):
        if add:
            return super().construct_change_message(request, form, formsets, add)
        return ""  # the formsets were not saved (a draft or a publish): log_change says what was

    def log_change(self, request, obj, message):
        version = getattr(request, "mapping_version", None)
        if version is not None:
            what = "Saved a draft" if version.status == "draft" else f"Published {version.label}"
            message = f"{what}{': ' + version.note if version.note else ''}"
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        version = getattr(request, "mapping_version", None)
        if version is None:
            return super().response_change(request, obj)
        if version.status == "draft":
            self.message_user(request, "Draft saved. Nothing is live until you publish it.")
        else:
            self.message_user(request, f"Published {version.label}: it is live now.")
        return redirect("admin:mappings_mappingset_change", obj.pk)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_row_count=Count("rows"))

    @admin.display(description="Rows", ordering="_row_count")
    def row_count(self, mapping_set: MappingSet) -> int:
        return mapping_set._row_count

    @admin.display(description="Ingest URL")
    def ingest_url(self, mapping_set: MappingSet) -> str:
        return format_html("<code>{}</code>", reverse("api:ingest", args=[mapping_set.slug]))


def _form_errors(form, formsets) -> list[str]:
    """Every error of the posted form, as lines ("name: This field is required.")."""
    errors = [f"{name}: {' '.join(messages)}" for name, messages in form.errors.items()]
    for formset in formsets:
        errors += [str(error) for error in formset.non_form_errors()]
        for index, row_errors in enumerate(formset.errors):
            errors += [f"Row {index + 1}, {name}: {' '.join(messages)}"
                       for name, messages in row_errors.items()]  # fmt: skip
    return errors


@admin.register(ApiClient)
class ApiClientAdmin(SimpleHistoryAdmin):
    form = ApiClientForm
    list_display = [
        "name", "token_hint", "is_active", "expires_at", "signs_requests", "rate_limit",
        "last_used_at", "created_at",
    ]  # fmt: skip
    list_filter = ["is_active"]
    filter_horizontal = ["mapping_sets"]
    readonly_fields = ["token_hint", "signs_requests", "last_used_at", "created_at"]
    actions = ["issue_new_token", "issue_signing_secret", "disable_signing"]

    @admin.display(description="Signs requests", boolean=True)
    def signs_requests(self, client: ApiClient) -> bool:
        return client.signs_requests

    def save_model(self, request, client: ApiClient, form, change: bool) -> None:
        if not change:
            request._issued_token = client.issue_token()
        super().save_model(request, client, form, change)

    def response_add(self, request, client: ApiClient, post_url_continue=None):
        return self._token_page(request, [(client, request._issued_token)])

    # Only for those who may change clients: auditors see the list but must not rotate tokens.
    @admin.action(
        description="Issue a new token (the old one stops working)", permissions=["change"]
    )
    def issue_new_token(self, request, queryset):
        issued = []
        for client in queryset:
            token = client.issue_token()
            client.save(update_fields=["token_hash", "token_hint", "updated_at"])
            issued.append((client, token))
        return self._token_page(request, issued)

    @admin.action(
        description="Require signed requests: issue a new signing secret", permissions=["change"]
    )
    def issue_signing_secret(self, request, queryset):
        issued = []
        for client in queryset:
            secret = client.issue_signing_secret()
            client.save(update_fields=["signing_secret_ciphertext", "updated_at"])
            issued.append((client, secret))
        return self._secret_page(request, issued, "signing_secret_issued.html", "Signing secret")

    @admin.action(description="Stop requiring signed requests", permissions=["change"])
    def disable_signing(self, request, queryset) -> None:
        for client in queryset:
            client.disable_signing()
            client.save(update_fields=["signing_secret_ciphertext", "updated_at"])
        self.message_user(request, f"Signing no longer required for {len(queryset)} client(s).")

    def _token_page(self, request, issued: list[tuple[ApiClient, str]]) -> TemplateResponse:
        return self._secret_page(request, issued, "token_issued.html", "API token")

    def _secret_page(
        self, request, issued: list[tuple[ApiClient, str]], template: str, title: str
    ) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "issued": issued, "title": title}
        response = TemplateResponse(request, f"admin/mappings/apiclient/{template}", context)
        # Shown once: no browser or proxy may keep a copy.
        response["Cache-Control"] = "no-store"
        return response
