"""Configuration admins: environments, credentials, mapping sets and API clients, with history."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from mappings.admin import connection as admin_connection
from mappings.admin import presets as admin_presets
from mappings.admin import preview as admin_preview
from mappings.admin.forms import (
    ApiClientForm,
    BrazeCredentialForm,
    EnvironmentForm,
    FieldMappingForm,
    MappingSetForm,
)
from mappings.admin.widgets import SuggestedInput
from mappings.delivery import connection_check
from mappings.ingest import discovery
from mappings.models import ApiClient, BrazeCredential, Environment, FieldMapping, MappingSet


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
    extra = 1
    fields = [
        "position", "source_type", "source_path", "transforms", "target_attribute", "operation",
        "required", "is_sensitive",
    ]  # fmt: skip

    def get_formset(self, request, obj=None, **kwargs):
        # Source paths seen in this set's conversations are offered as suggestions.
        kwargs["widgets"] = {
            "source_path": SuggestedInput("seen-paths"),
            "transforms": forms.Textarea(attrs={"rows": 1, "cols": 30}),
        }
        return super().get_formset(request, obj, **kwargs)


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
                           "preview_link"]}),
        ("User identifier", {"fields": ["identifier_type", "identifier_source_path",
                                        "identifier_transforms", "alias_label"]}),
        ("Problems", {"fields": ["on_problem"]}),
        ("Delivery", {"fields": ["delivery_mode", "sync_budget_seconds",
                                 "dedup_unchanged_attributes", "partial_success"]}),
        ("Field discovery", {"fields": ["seen_paths", "unmapped_paths"]}),
    ]  # fmt: skip
    readonly_fields = ["version", "preview_link", "seen_paths", "unmapped_paths"]

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        from_preset = self.admin_site.admin_view(self.add_from_preset_view)
        return [
            path("<int:pk>/preview/", preview, name="mappings_mappingset_preview"),
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

    @admin.display(description="Preview")
    def preview_link(self, mapping_set: MappingSet) -> str:
        if not mapping_set.pk:
            return "Save first, then preview."
        url = reverse("admin:mappings_mappingset_preview", args=[mapping_set.pk])
        return format_html('<a href="{}" id="preview-link">Preview this mapping</a>', url)

    @admin.display(description="Seen source paths")
    def seen_paths(self, mapping_set: MappingSet) -> str:
        seen = list(mapping_set.seen_paths.all()) if mapping_set.pk else []
        options = format_html_join(
            "", '<option value="{}">{}</option>', ((s.path, ", ".join(s.types)) for s in seen)
        )
        summary = f"{len(seen)} paths seen in received conversations (offered as suggestions)"
        return format_html('{}<datalist id="seen-paths">{}</datalist>', summary, options)

    @admin.display(description="Seen but not mapped")
    def unmapped_paths(self, mapping_set: MappingSet) -> str:
        unmapped = discovery.unmapped(mapping_set) if mapping_set.pk else []
        if not unmapped:
            return "None"
        items = format_html_join(
            "", "<li><code>{}</code> ({})</li>", ((s.path, ", ".join(s.types)) for s in unmapped)
        )
        return format_html('<ul class="unmapped-paths">{}</ul>', items)

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if change and (form.has_changed() or any(f.has_changed() for f in formsets)):
            form.instance.bump_version()

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_row_count=Count("rows"))

    @admin.display(description="Rows", ordering="_row_count")
    def row_count(self, mapping_set: MappingSet) -> int:
        return mapping_set._row_count

    @admin.display(description="Ingest URL")
    def ingest_url(self, mapping_set: MappingSet) -> str:
        return format_html("<code>{}</code>", reverse("api:ingest", args=[mapping_set.slug]))


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
