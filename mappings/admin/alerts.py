"""The alerts' admin pages: the rules (configuration, with history), what fires now and every
message sent (read-only, listed in the sidebar's Logs section)."""

from django.contrib import admin
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from mappings.admin.audit import ReadOnlyAdmin
from mappings.admin.forms import AlertRuleForm
from mappings.models import AlertNotification, AlertRule, AlertState


@admin.register(AlertRule)
class AlertRuleAdmin(SimpleHistoryAdmin):
    form = AlertRuleForm
    list_display = ["name", "kind", "environment", "mapping_set", "threshold", "channels",
                    "is_active"]  # fmt: skip
    list_filter = ["kind", "is_active", "environment"]
    list_select_related = ["environment", "mapping_set"]
    search_fields = ["name"]
    readonly_fields = ["current_webhook"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_active"]}),
        ("What it watches", {"fields": ["environment", "mapping_set"]}),
        ("When it fires", {"fields": ["threshold", "window_minutes", "min_calls"]}),
        ("Whom it tells", {"fields": ["email_recipients", "current_webhook", "webhook_url",
                                      "remove_webhook", "cooldown_minutes"]}),
    ]  # fmt: skip

    def get_fieldsets(self, request, obj=None):
        if obj and not self.has_change_permission(request, obj):
            # A read-only page renders each field's value, and "webhook_url" would resolve to
            # the model's webhook_url() method: the decrypted URL. View-only users get the mask.
            hidden = {"webhook_url", "remove_webhook"}
            return [
                (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
                for name, options in self.fieldsets
            ]
        return self.fieldsets

    @admin.display(description="Current webhook")
    def current_webhook(self, rule: AlertRule) -> str:
        return rule.masked_webhook_url

    @admin.display(description="Channels")
    def channels(self, rule: AlertRule) -> str:
        told = [f"{len(rule.recipients())} email"] if rule.recipients() else []
        return ", ".join([*told, *(["webhook"] if rule.webhook_url_ciphertext else [])])


class _AlertLogAdmin(ReadOnlyAdmin):
    def has_module_permission(self, request) -> bool:
        return False  # listed in the sidebar's Logs section (templates/admin/nav_sidebar.html)


@admin.register(AlertState)
class AlertStateAdmin(_AlertLogAdmin):
    raw_title = "Alerts"
    list_display = ["status", "rule", "subject_label", "since", "summary", "log_link",
                    "notified_at"]  # fmt: skip
    list_filter = ["firing", "rule__kind", "rule"]
    list_select_related = ["rule"]
    fields = ["rule", "subject_label", "status", "since", "summary", "log_link",
              "notified_firing", "notified_at"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="Now", ordering="firing")
    def status(self, state: AlertState) -> str:
        return "Firing" if state.firing else "Cleared"

    @admin.display(description="Log page")
    def log_link(self, state: AlertState) -> str:
        return format_html('<a href="{}">Open the filtered log</a>', state.link)


@admin.register(AlertNotification)
class AlertNotificationAdmin(_AlertLogAdmin):
    raw_title = "Alert messages"
    list_display = ["sent_at", "rule", "subject_label", "transition", "channel", "ok", "error"]
    list_filter = ["ok", "channel", "transition", "rule"]
    list_select_related = ["rule"]
    date_hierarchy = "sent_at"
    fields = ["sent_at", "rule", "subject_label", "transition", "channel", "summary", "ok",
              "error"]  # fmt: skip
    readonly_fields = fields
