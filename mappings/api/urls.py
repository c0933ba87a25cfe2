"""Versioned API routes; each view documents itself with extend_schema (see api/schema.py)."""

from django.urls import path

from mappings.api.views import (
    DeliveryView,
    IngestView,
    LookupView,
    PlatformIngestView,
    PlatformLookupView,
    PreviewView,
)

app_name = "api"

urlpatterns = [
    path("ingest/<slug:slug>/", IngestView.as_view(), name="ingest"),
    path("ingest/<slug:slug>/preview/", PreviewView.as_view(), name="ingest-preview"),
    path(
        "platforms/<slug:platform>/<slug:slug>/",
        PlatformIngestView.as_view(),
        name="platform-ingest",
    ),
    path("lookup/<slug:slug>/", LookupView.as_view(), name="lookup"),
    path(
        "platforms/<slug:platform>/<slug:slug>/lookup/",
        PlatformLookupView.as_view(),
        name="platform-lookup",
    ),
    path("deliveries/<uuid:delivery_id>/", DeliveryView.as_view(), name="delivery"),
]
