"""Routes of the log pages, mounted under /admin/logs/ (before the admin's own catch-all)."""

from django.urls import path

from mappings.log_pages import views

app_name = "logs"

urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("deliveries/", views.delivery_list, name="deliveries"),
    path("deliveries.csv", views.delivery_csv, name="deliveries-csv"),
    path("deliveries/replay/", views.bulk_replay, name="bulk-replay"),
    path("deliveries/<uuid:pk>/", views.delivery_detail, name="delivery"),
    path("deliveries/remap/", views.bulk_remap, name="bulk-remap"),
    path("deliveries/<uuid:pk>/replay/", views.replay_delivery, name="replay"),
    path("deliveries/<uuid:pk>/remap/", views.remap_delivery, name="remap"),
    path("calls/", views.attempt_list, name="attempts"),
    path("calls.csv", views.attempt_csv, name="attempts-csv"),
    path("changes/", views.config_changes, name="changes"),
]
