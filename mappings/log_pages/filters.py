"""The filter forms of the log lists (django-filter), each filter served by an index."""

import django_filters
from django import forms
from django.db.models import QuerySet

from mappings.log_pages import queries
from mappings.models import ApiClient, Delivery, DeliveryAttempt, Environment, MappingSet
from mappings.models.audit import AttemptOutcome, DeliveryStatus

_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class _LogFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search", method="search", help_text="User identifier, delivery id or idempotency key"
    )
    environment = django_filters.ModelChoiceFilter(queryset=Environment.objects.all())
    mapping_set = django_filters.ModelChoiceFilter(queryset=MappingSet.objects.all())
    since = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="From (UTC)", widget=_DATETIME
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Until (UTC)", widget=_DATETIME
    )


class DeliveryFilter(_LogFilter):
    api_client = django_filters.ModelChoiceFilter(
        queryset=ApiClient.objects.all(), label="API client"
    )
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices, label="Outcome")
    http_status = django_filters.NumberFilter(
        label="HTTP status", method="filter_http_status", help_text="Any Braze call answered so"
    )

    class Meta:
        model = Delivery
        fields: list[str] = []

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queries.search_deliveries(queryset, value)

    def filter_http_status(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queries.with_http_status(queryset, int(value))


class AttemptFilter(_LogFilter):
    api_client = django_filters.ModelChoiceFilter(
        field_name="delivery__api_client", queryset=ApiClient.objects.all(), label="API client"
    )
    outcome = django_filters.ChoiceFilter(choices=AttemptOutcome.choices)
    response_status = django_filters.NumberFilter(label="HTTP status")

    class Meta:
        model = DeliveryAttempt
        fields: list[str] = []

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queries.search_attempts(queryset, value)
