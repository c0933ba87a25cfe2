"""Top-level routes: the admin, the log pages, the versioned API, its OpenAPI schema and docs,
probes and Prometheus metrics."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from mappings.api.metrics_view import metrics_view
from mappings.api.views import LivenessView, ReadinessView

admin.site.site_header = "Braze conversation bridge"
admin.site.site_title = "Braze bridge admin"
admin.site.index_title = "Configuration and audit log"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Before admin.site.urls, whose <app_label>/ pattern would otherwise swallow "logs/".
    path("admin/logs/", include("mappings.log_pages.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mappings.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", LivenessView.as_view(), name="healthz"),
    path("readyz", ReadinessView.as_view(), name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]

# Under /api/ these answer the API's JSON error shape; elsewhere Django's usual pages.
handler400 = "mappings.api.errors.handler400"
handler403 = "mappings.api.errors.handler403"
handler404 = "mappings.api.errors.handler404"
handler500 = "mappings.api.errors.handler500"
