"""A workspace's REST API keys and what each may do: 401 for a key Braze does not know, 403 for
a known key without the endpoint's permission (docs/braze.md, "Reading a profile back")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .exchange import Answer, message_answer
from .received_requests import key_last4

TRACK_PERMISSION = "users.track"
EXPORT_PERMISSION = "users.export.ids"
# A key given without permissions may call every endpoint the fake serves.
ALL_PERMISSIONS = frozenset({TRACK_PERMISSION, EXPORT_PERMISSION})


class ApiKeys:
    """``api_keys`` hold every permission; ``key_permissions`` names keys with only the listed
    ones (Braze permission names such as ``users.track``), e.g. a write key that may not read."""

    def __init__(
        self,
        api_keys: Iterable[str],
        key_permissions: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self._permissions = {key: ALL_PERMISSIONS for key in api_keys}
        for key, permissions in (key_permissions or {}).items():
            if isinstance(permissions, str):  # "users.track" would become its letters
                raise ValueError(f"the permissions of a key must be a list, not {permissions!r}")
            self._permissions[key] = frozenset(permissions)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self._permissions)

    def refusal(self, headers: dict[str, str], permission: str) -> Answer | None:
        """The 401 or 403 for this request's Bearer key, or None when it may go on."""
        key = bearer_key(headers)
        if key not in self._permissions:
            shown = key_last4(key or "")
            return message_answer(401, f"Invalid API key: …{shown}" if shown else "Invalid API key")
        if permission not in self._permissions[key]:
            return message_answer(403, f"The API key lacks the '{permission}' permission")
        return None


def bearer_key(headers: dict[str, str]) -> str | None:
    scheme, _, key = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None
