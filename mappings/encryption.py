"""Encryption at rest for Braze API keys and API-client signing secrets.

Fernet (AES-128-CBC + HMAC-SHA256) through ``MultiFernet``: the first key in
``BRAZE_KEY_ENCRYPTION_KEYS`` encrypts, every key decrypts, so keys can be rotated by putting a
new key first and running ``manage.py rotate_encryption_keys``.

A ciphertext that no configured key opens raises ``SecretDecryptionError``. It never falls back
to returning the ciphertext: sending ciphertext to Braze as an API key would look like a Braze
401 and hide the real fault (a wrong or missing encryption key).
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("BRAZE_KEY_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "BRAZE_KEY_ENCRYPTION_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes)"
        ) from error


def _current() -> MultiFernet:
    return _fernet(tuple(settings.BRAZE_KEY_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken as error:
        raise SecretDecryptionError(
            "A stored Braze API key cannot be decrypted with BRAZE_KEY_ENCRYPTION_KEYS; "
            "was the encryption key changed without rotation?"
        ) from error


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the primary (first) key."""
    try:
        return _current().rotate(ciphertext.encode()).decode()
    except InvalidToken as error:
        raise SecretDecryptionError("A stored Braze API key cannot be decrypted") from error


def generate_key() -> str:
    return Fernet.generate_key().decode()
