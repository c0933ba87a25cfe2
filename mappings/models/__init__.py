"""Models: configuration (what admins edit) and audit (what happened)."""

from mappings.models.alerts import AlertNotification, AlertRule, AlertState
from mappings.models.audit import (
    DeliveredAttributes,
    Delivery,
    DeliveryAttempt,
    DeliveryGate,
)
from mappings.models.canary import CanaryRun
from mappings.models.config import ApiClient, BrazeCredential, Environment, FieldMapping, MappingSet
from mappings.models.discovery import SeenPath
from mappings.models.lookups import Lookup, LookupField, LookupOutcome, LookupSettings
from mappings.models.versions import MappingVersion

__all__ = [
    "AlertNotification",
    "AlertRule",
    "AlertState",
    "ApiClient",
    "BrazeCredential",
    "CanaryRun",
    "DeliveredAttributes",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryGate",
    "Environment",
    "FieldMapping",
    "Lookup",
    "LookupField",
    "LookupOutcome",
    "LookupSettings",
    "MappingSet",
    "MappingVersion",
    "SeenPath",
]
