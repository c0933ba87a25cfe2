from django.urls import path

from mappings.api.views import DeliveryView, IngestView

app_name = "api"

urlpatterns = [
    path("ingest/<slug:slug>/", IngestView.as_view(), name="ingest"),
    path("deliveries/<uuid:delivery_id>/", DeliveryView.as_view(), name="delivery"),
]
