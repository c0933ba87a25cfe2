"""Admin pages: configuration (editable) and the audit log (read-only)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from mappings import braze_endpoints
from mappings.admin_widgets import DatalistInput, SecretInput, pretty_json
from mappings.models import (
    ApiClient,
    BrazeCredential,
    Delivery,
    DeliveryAttempt,
    Environment,
    FieldMapping,
    MappingSet,
)
from mappings.services import delivery as delivery_service


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


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    form = EnvironmentForm
    list_display = ["name", "rest_endpoint", "api_key", "updated_at"]
    list_select_related = ["credential"]
    search_fields = ["name"]

    @admin.display(description="API key")
    def api_key(self, environment: Environment) -> str:
        credential = getattr(environment, "credential", None)
        return credential.masked_key if credential else "(none: add a Braze credential)"


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


@admin.register(BrazeCredential)
class BrazeCredentialAdmin(admin.ModelAdmin):
    form = BrazeCredentialForm
    list_display = ["environment", "masked_key", "updated_at"]
    list_select_related = ["environment"]
    readonly_fields = ["masked_key", "updated_at"]

    def get_fields(self, request, obj=None) -> list[str]:
        return ["environment", "api_key", *(["masked_key", "updated_at"] if obj else [])]

    @admin.display(description="Current key")
    def masked_key(self, credential: BrazeCredential) -> str:
        return credential.masked_key


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    extra = 1
    fields = ["position", "source_path", "target_attribute", "required", "is_sensitive"]


@admin.register(MappingSet)
class MappingSetAdmin(admin.ModelAdmin):
    inlines = [FieldMappingInline]
    list_display = ["slug", "name", "environment", "is_active", "row_count", "ingest_url"]
    list_filter = ["is_active", "environment"]
    list_select_related = ["environment"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        "name", "slug", "environment", "is_active", "identifier_source_path", "braze_partner",
        "version",
    ]  # fmt: skip
    readonly_fields = ["version"]

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


class ApiClientForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ["name", "is_active", "mapping_sets"]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ["name", "token_hint", "is_active", "last_used_at", "created_at"]
    list_filter = ["is_active"]
    filter_horizontal = ["mapping_sets"]
    readonly_fields = ["token_hint", "last_used_at", "created_at"]
    actions = ["issue_new_token"]

    def save_model(self, request, client: ApiClient, form, change: bool) -> None:
        if not change:
            request._issued_token = client.issue_token()
        super().save_model(request, client, form, change)

    def response_add(self, request, client: ApiClient, post_url_continue=None):
        return self._token_page(request, [(client, request._issued_token)])

    @admin.action(description="Issue a new token (the old one stops working)")
    def issue_new_token(self, request, queryset):
        issued = []
        for client in queryset:
            token = client.issue_token()
            client.save(update_fields=["token_hash", "token_hint", "updated_at"])
            issued.append((client, token))
        return self._token_page(request, issued)

    def _token_page(self, request, issued: list[tuple[ApiClient, str]]) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "issued": issued, "title": "API token"}
        response = TemplateResponse(request, "admin/mappings/apiclient/token_issued.html", context)
        response["Cache-Control"] = "no-store"
        return response


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit rows are evidence: viewable by staff with view permission, never edited."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = [
        "attempt_number", "created_at", "sent_at", "batch_size", "response_status", "outcome",
        "ambiguous", "duration_ms", "link",
    ]  # fmt: skip
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Details")
    def link(self, attempt: DeliveryAttempt) -> str:
        url = reverse("admin:mappings_deliveryattempt_change", args=[attempt.pk])
        return format_html('<a href="{}">Request and response</a>', url)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "mapping_set",
        "environment",
        "external_id",
        "status",
        "short_reason",
    ]
    list_filter = ["status", "environment", "mapping_set", "created_at"]
    list_select_related = ["mapping_set", "environment"]
    search_fields = ["external_id", "=id"]
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    actions = ["replay_selected"]
    fields = [
        "id", "created_at", "mapping_set", "environment", "api_client", "external_id", "status",
        "reason", "attempt_count", "next_attempt_at", "lease_expires_at", "skipped_attributes",
        "problems_pretty", "received_pretty", "braze_pretty",
    ]  # fmt: skip
    readonly_fields = fields

    @admin.action(description="Replay selected failed or dead deliveries")
    def replay_selected(self, request, queryset) -> None:
        replayed = skipped = 0
        for delivery in queryset:
            try:
                delivery_service.replay(delivery, triggered_by=request.user)
                replayed += 1
            except delivery_service.NotReplayable:
                skipped += 1
        self.message_user(
            request,
            f"{replayed} queued for replay; {skipped} skipped (not failed or dead)",
            messages.SUCCESS if replayed else messages.WARNING,
        )

    @admin.display(description="Reason")
    def short_reason(self, delivery: Delivery) -> str:
        return delivery.reason[:80]

    @admin.display(description="Problems")
    def problems_pretty(self, delivery: Delivery) -> str:
        return pretty_json(delivery.problems)

    @admin.display(description="Received conversation")
    def received_pretty(self, delivery: Delivery) -> str:
        return pretty_json(delivery.received_payload)

    @admin.display(description="Mapped Braze body")
    def braze_pretty(self, delivery: Delivery) -> str:
        return pretty_json(delivery.braze_payload)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at", "environment", "mapping_set", "response_status", "outcome", "duration_ms",
        "delivery_link",
    ]  # fmt: skip
    list_filter = [
        "outcome", "ambiguous", "environment", "mapping_set", "response_status", "created_at",
    ]  # fmt: skip
    list_select_related = ["environment", "mapping_set"]
    search_fields = ["delivery__external_id", "=delivery__id"]
    date_hierarchy = "created_at"
    fields = [
        "created_at", "environment", "mapping_set", "delivery_link", "attempt_number", "url",
        "sent_at", "batch_id", "batch_size", "ambiguous", "outcome", "response_status",
        "duration_ms", "error", "request_pretty", "response_pretty",
    ]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="Delivery")
    def delivery_link(self, attempt: DeliveryAttempt) -> str:
        url = reverse("admin:mappings_delivery_change", args=[attempt.delivery_id])
        return format_html('<a href="{}">{}</a>', url, attempt.delivery_id)

    @admin.display(description="Request body sent")
    def request_pretty(self, attempt: DeliveryAttempt) -> str:
        return pretty_json(attempt.request_body)

    @admin.display(description="Braze response body")
    def response_pretty(self, attempt: DeliveryAttempt) -> str:
        return pretty_json(attempt.response_body)
