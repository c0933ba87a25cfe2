"""Models: configuration (what admins edit) and audit (what happened)."""

from mappings.models.audit import Delivery, DeliveryAttempt
from mappings.models.config import ApiClient, BrazeCredential, Environment, FieldMapping, MappingSet
from mappings.models.discovery import SeenPath

__all__ = [
    "ApiClient",
    "BrazeCredential",
    "Delivery",
    "DeliveryAttempt",
    "Environment",
    "FieldMapping",
    "MappingSet",
    "SeenPath",
]
