"""Top-level routes: the admin (configuration), the log pages and the versioned API."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Braze conversation bridge"
admin.site.site_title = "Braze bridge admin"
admin.site.index_title = "Configuration and audit log"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Before admin.site.urls, whose <app_label>/ pattern would otherwise swallow "logs/".
    path("admin/logs/", include("mappings.log_pages.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mappings.api.urls")),
]
