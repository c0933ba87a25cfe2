"""The lookups' admin pages: per mapping set, its lookup TTL and read rows; the lookup log.

Read rows are edited on a page of their own ("Lookup configurations"), saved as they are: the
mapping set's own page publishes its write rows through drafts (admin/drafts.py), whose document
takes the read rows as saved here. A save here that changes the set's config document is
recorded as its next published version (with ``NOTE``), so the version list and the config
history show it like any other change.
"""

from django import forms
from django.contrib import admin, messages

from mappings.admin.audit import ReadOnlyAdmin
from mappings.management import config_io
from mappings.models import Lookup, LookupField, LookupSettings, MappingSet

NOTE = "Edited on the Lookups page (read rows, lookup cache)"


class LookupFieldInline(admin.TabularInline):
    model = LookupField
    extra = 1
    fields = ["position", "braze_field", "bot_name", "transforms", "is_sensitive"]

    def get_formset(self, request, obj=None, **kwargs):
        kwargs["widgets"] = {"transforms": forms.Textarea(attrs={"rows": 1, "cols": 30})}
        return super().get_formset(request, obj, **kwargs)


@admin.register(LookupSettings)
class LookupSettingsAdmin(admin.ModelAdmin):
    inlines = [LookupFieldInline]
    list_display = ["slug", "name", "environment", "lookup_ttl_seconds", "read_row_count"]
    list_select_related = ["environment"]
    search_fields = ["slug", "name"]
    fields = ["name", "slug", "environment", "lookup_ttl_seconds"]
    readonly_fields = ["name", "slug", "environment"]

    def has_add_permission(self, request) -> bool:
        return False  # a mapping set is made on its own page

    def save_model(self, request, obj, form, change: bool) -> None:
        # Saved as the mapping set itself, so its history records who changed the TTL (a proxy's
        # save is sent under the proxy's name, which the history tables do not listen to).
        mapping_set = MappingSet.objects.select_related("environment").get(pk=obj.pk)
        request.lookups_before = config_io.mapping_set_document(mapping_set)
        mapping_set.lookup_ttl_seconds = obj.lookup_ttl_seconds
        mapping_set.save(update_fields=["lookup_ttl_seconds", "updated_at"])

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        version = config_io.record_edit(form.instance, request.lookups_before, NOTE, request.user)
        if version is not None:
            self.message_user(
                request, f"Live now and recorded as {version.label} of {version.mapping_set.slug}.",
                messages.INFO,
            )  # fmt: skip

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="read rows")
    def read_row_count(self, obj) -> int:
        return obj.lookup_fields.count()


@admin.register(Lookup)
class LookupAdmin(ReadOnlyAdmin):
    raw_title = "Lookups (raw rows)"
    list_display = ["created_at", "mapping_set", "platform", "external_id", "outcome",
                    "latency_ms"]  # fmt: skip
    list_filter = ["outcome", "platform", "environment"]
    list_select_related = ["mapping_set"]
    search_fields = ["external_id"]

    def has_module_permission(self, request) -> bool:
        return True  # no log page shows lookups yet: this is where they are read
