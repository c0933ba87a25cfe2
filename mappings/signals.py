"""Saving an environment or its Braze key resumes deliveries parked on a credential problem."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from mappings.models import BrazeCredential, Environment
from mappings.services import outbox


@receiver(post_save, sender=Environment)
def _environment_saved(sender, instance: Environment, **kwargs) -> None:
    outbox.resume(instance.pk)


@receiver(post_save, sender=BrazeCredential)
def _credential_saved(sender, instance: BrazeCredential, **kwargs) -> None:
    outbox.resume(instance.environment_id)
