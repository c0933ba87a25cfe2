"""Top-level routes: the admin (configuration and audit log) and the versioned API."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Braze conversation bridge"
admin.site.site_title = "Braze bridge admin"
admin.site.index_title = "Configuration and audit log"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mappings.api.urls")),
]
