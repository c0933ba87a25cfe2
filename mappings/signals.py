"""Reactions to configuration changes.

- Saving an environment or its Braze key resumes deliveries parked on a credential problem.
- Any configuration change empties this process's cache of ingest lookups
  (mappings/api/config_lookups.py).
"""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from mappings.api import config_lookups
from mappings.delivery import outbox
from mappings.models import ApiClient, BrazeCredential, Environment, FieldMapping, MappingSet
from mappings.models.config import config_changed

CONFIG_MODELS = (ApiClient, BrazeCredential, Environment, FieldMapping, MappingSet)


@receiver(post_save, sender=Environment)
def _environment_saved(sender, instance: Environment, **kwargs) -> None:
    outbox.resume(instance.pk)


@receiver(post_save, sender=BrazeCredential)
def _credential_saved(sender, instance: BrazeCredential, **kwargs) -> None:
    outbox.resume(instance.environment_id)


def _config_changed(sender, **kwargs) -> None:
    config_lookups.forget()


for _model in CONFIG_MODELS:
    post_save.connect(_config_changed, sender=_model)
    post_delete.connect(_config_changed, sender=_model)
m2m_changed.connect(_config_changed, sender=ApiClient.mapping_sets.through)
config_changed.connect(_config_changed)
