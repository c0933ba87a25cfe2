"""The Braze canary's runs: read-only, newest first, filtered by environment and verdict."""

from django.contrib import admin

from mappings.admin.audit import ReadOnlyAdmin
from mappings.admin.widgets import pretty_json
from mappings.models import CanaryRun


@admin.register(CanaryRun)
class CanaryRunAdmin(ReadOnlyAdmin):
    raw_title = "Braze canary runs"
    list_display = [
        "started_at", "environment", "ok", "kind", "short_summary", "response_status",
        "duration_ms",
    ]  # fmt: skip
    list_filter = ["environment", "ok", "kind", "started_at"]
    list_select_related = ["environment"]
    date_hierarchy = "started_at"
    fields = [
        "started_at", "environment", "ok", "kind", "summary", "url", "request_pretty",
        "response_status", "response_body", "duration_ms",
    ]  # fmt: skip
    readonly_fields = fields

    def has_module_permission(self, request) -> bool:
        # Listed, unlike the raw delivery rows: no log page shows these runs one by one.
        return admin.ModelAdmin.has_module_permission(self, request)

    @admin.display(description="Summary")
    def short_summary(self, run: CanaryRun) -> str:
        return run.summary[:120]

    @admin.display(description="Request body sent")
    def request_pretty(self, run: CanaryRun) -> str:
        return pretty_json(run.request_body)
