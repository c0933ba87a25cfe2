"""Secrets for local use only, generated once and kept in an untracked file.

Local mode must work with no configuration, yet the Braze API keys it stores are encrypted and
must stay readable across restarts. So instead of a dummy constant (which would be the same on
every machine), each checkout generates its own secrets on first start and keeps them in
``var/local-secrets.json`` (git-ignored). Production mode never reads this file.
"""

import base64
import json
import os
import secrets
from pathlib import Path


def _new_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "BRAZE_KEY_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }


def load_or_create(path: Path) -> dict[str, str]:
    """Return the local secrets stored at ``path``, creating the file on first use."""
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    values = _new_secrets()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values
