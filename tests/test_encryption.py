"""Braze API keys are encrypted at rest, rotatable, and a wrong key raises."""

import pytest
from django.core.management import call_command
from django.db import connection

from mappings import encryption
from mappings.models import BrazeCredential, Environment
from tests.conftest import BRAZE_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def credential(settings) -> BrazeCredential:
    settings.BRAZE_KEY_ENCRYPTION_KEYS = [encryption.generate_key()]
    environment = Environment.objects.create(
        name="prod", rest_endpoint="https://rest.iad-01.braze.com"
    )
    credential = BrazeCredential(environment=environment)
    credential.set_api_key(BRAZE_KEY)
    credential.save()
    return credential


def _all_database_text() -> str:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        rows = []
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from introspection
            rows.extend(cursor.fetchall())
    return repr(rows)


def test_the_plaintext_key_is_nowhere_in_the_database(credential):
    dump = _all_database_text()

    assert BRAZE_KEY not in dump
    assert credential.api_key_ciphertext in dump


def test_the_key_decrypts_back(credential):
    assert BrazeCredential.objects.get().api_key() == BRAZE_KEY
    assert BrazeCredential.objects.get().masked_key == "••••7Qx9"


def test_a_wrong_encryption_key_raises_instead_of_returning_ciphertext(credential, settings):
    settings.BRAZE_KEY_ENCRYPTION_KEYS = [encryption.generate_key()]

    with pytest.raises(encryption.SecretDecryptionError):
        BrazeCredential.objects.get().api_key()


def test_rotation_re_encrypts_under_the_new_key(credential, settings):
    old_key = settings.BRAZE_KEY_ENCRYPTION_KEYS[0]
    new_key = encryption.generate_key()
    settings.BRAZE_KEY_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.BRAZE_KEY_ENCRYPTION_KEYS = [new_key]

    assert BrazeCredential.objects.get().api_key() == BRAZE_KEY
