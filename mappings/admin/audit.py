"""Audit admins: the raw delivery and attempt rows, read-only and masked."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from mappings.admin.widgets import pretty_json
from mappings.delivery import replays
from mappings.log_pages import redaction
from mappings.models import Delivery, DeliveryAttempt


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit rows are evidence: viewable by staff with view permission, never edited.

    The log pages (/admin/logs/) are the fast, filtered view; these stay for raw inspection and
    skip the full-table count Django's changelist would otherwise run for its total.
    """

    show_full_result_count = False
    raw_title = ""  # the changelist's title: "raw rows", apart from the log page's name

    def has_module_permission(self, request) -> bool:
        # Not listed in the sidebar or the index, where they would be a second page of the same
        # rows under the same name; the log pages link here for raw inspection.
        return False

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": self.raw_title, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

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
    raw_title = "Raw delivery rows"
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
        "id", "log_page", "created_at", "mapping_set", "environment", "api_client", "external_id",
        "status", "mapping_version", "reason", "attempt_count", "next_attempt_at",
        "lease_expires_at", "skipped_attributes", "problems_pretty", "received_pretty",
        "braze_pretty",
    ]  # fmt: skip
    readonly_fields = fields

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("mappings.replay_delivery")

    @admin.action(description="Replay selected failed or dead deliveries", permissions=["replay"])
    def replay_selected(self, request, queryset) -> None:
        replayed = skipped = 0
        for delivery in queryset:
            try:
                replays.replay_one(delivery, request.user)
                replayed += 1
            except replays.NotReplayable:
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
        sensitivity = redaction.sensitivity_for(delivery.mapping_set_id)
        return pretty_json(redaction.mask_conversation(delivery.received_payload, sensitivity))

    @admin.display(description="Mapped Braze body")
    def braze_pretty(self, delivery: Delivery) -> str:
        sensitivity = redaction.sensitivity_for(delivery.mapping_set_id)
        return pretty_json(redaction.mask_braze_body(delivery.braze_payload, sensitivity))

    @admin.display(description="Log page")
    def log_page(self, delivery: Delivery) -> str:
        url = reverse("logs:delivery", args=[delivery.pk])
        text = "Open it on the Deliveries log page (its Braze calls, replay)"
        return format_html('<a href="{}">{}</a>', url, text)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    raw_title = "Raw Braze call rows"
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
        sensitivity = redaction.sensitivity_for(attempt.mapping_set_id)
        return pretty_json(redaction.mask_braze_body(attempt.request_body, sensitivity))

    @admin.display(description="Braze response body")
    def response_pretty(self, attempt: DeliveryAttempt) -> str:
        sensitivity = redaction.sensitivity_for(attempt.mapping_set_id)
        values = redaction.sensitive_values(attempt.request_body, sensitivity)
        return pretty_json(redaction.mask_text(attempt.response_body, values))
