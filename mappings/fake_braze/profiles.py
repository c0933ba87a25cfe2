"""The user profiles the fake's accepted ``/users/track`` objects built, for the export to read.

Thread-safe: handler threads apply and export at once. A profile changes the moment its request
is accepted, where Braze applies writes a little later (docs/braze.md): tests see a write at once.
Only what a request carries is modelled: attributes, and per name a count with the first and
last time of events and of purchases. Sessions, devices, campaigns and revenue are left out.
"""

from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .attribute_rules import OBJECT_FLAGS, STANDARD_ATTRIBUTES
from .attribute_updates import DELETE, updated_value
from .identifier_rules import IDENTIFIER_KEYS
from .received_requests import accepted_objects
from .rules import ARRAYS, object_error

Alias = tuple[str, str]  # (alias_name, alias_label)


@dataclass
class Occurrences:
    """Braze's export summary of one event name or product: count, first and last time."""

    count: int = 0
    first: str = ""
    last: str = ""

    def add(self, when: str) -> None:
        self.count += 1
        if not self.first or moment(when) < moment(self.first):
            self.first = when
        if not self.last or moment(when) >= moment(self.last):
            self.last = when

    def exported(self, name: str) -> dict[str, Any]:
        return {"name": name, "first": self.first, "last": self.last, "count": self.count}


@dataclass
class Profile:
    braze_id: str
    created_at: str
    external_id: str | None = None
    aliases: list[Alias] = field(default_factory=list)
    standard: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    events: dict[str, Occurrences] = field(default_factory=dict)
    purchases: dict[str, Occurrences] = field(default_factory=dict)


def moment(text: str) -> datetime:
    """An accepted ISO 8601 time; one without a zone is UTC, as at Braze."""
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Profiles:
    """Every profile, found by external_id, alias, braze_id, email or phone.

    Found through an index of each profile's identifiers, so a request costs the same with
    10 profiles or 100,000 (with a scan of every profile per object, bench/delivery_drain.py
    drained 1,127 records/s against 3,398 with the index). Email and phone are attributes a
    later write may change, so the index follows each write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._by_identifier: dict[tuple[str, Any], list[Profile]] = {}

    def clear(self) -> None:
        with self._lock:
            self._by_identifier.clear()

    def apply_track(self, status: int, body: Any, answer: Any) -> None:
        """Apply what a ``/users/track`` answer says was accepted, attributes first, as Braze.

        An object that breaks a rule is skipped even when a scripted 202 "accepted" it all.
        """
        with self._lock:
            for kind in ARRAYS:
                for obj in accepted_objects(status, body, answer, kind):
                    if object_error(kind, obj) is None:
                        self._apply_object(kind, obj)

    def export(self, identifier: str, value: Any) -> list[dict[str, Any]]:
        """The exported profiles ``identifier`` (the export request's name for it) points at,
        oldest first: copies, taken under the lock, that later writes leave alone."""
        with self._lock:
            return [exported(profile) for profile in self._found(identifier, value)]

    def _found(self, identifier: str, value: Any) -> list[Profile]:
        if not _indexable(value):
            return []  # no identifier we index is a list or an object
        found = self._by_identifier.get((identifier, value), [])
        return sorted(found, key=lambda profile: profile.braze_id)  # braze ids count up

    def _apply_object(self, kind: str, obj: dict[str, Any]) -> None:
        profile = self._profile_for(obj)
        if profile is None:
            return
        if kind == "attributes":
            before = identifiers_of(profile)
            apply_attributes(profile, obj)
            self._reindex(profile, before)
        elif kind == "events":
            profile.events.setdefault(obj["name"], Occurrences()).add(obj["time"])
        else:
            profile.purchases.setdefault(obj["product_id"], Occurrences()).add(obj["time"])

    def _profile_for(self, obj: dict[str, Any]) -> Profile | None:
        """The object's user, created unless ``_update_existing_only`` (by default with an
        alias) or a ``braze_id`` (Braze assigns those) says not to."""
        key, value = identifying(obj)
        found = self._found(key, value)
        if found:
            return found[0]
        default_existing_only = key == "user_aliases"
        if key == "braze_id" or obj.get("_update_existing_only", default_existing_only):
            return None
        profile = Profile(braze_id=f"fake{next(self._ids):020x}", created_at=now_text())
        if key == "external_ids":
            profile.external_id = value
        elif key == "user_aliases":
            profile.aliases.append(value)
        else:
            profile.standard[STANDARD_NAME[key]] = value
        self._reindex(profile, set())
        return profile

    def _reindex(self, profile: Profile, before: set[tuple[str, Any]]) -> None:
        after = identifiers_of(profile)
        for key in before - after:
            self._by_identifier[key].remove(profile)
            if not self._by_identifier[key]:
                del self._by_identifier[key]
        for key in after - before:
            self._by_identifier.setdefault(key, []).append(profile)


def _indexable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | tuple)


def identifiers_of(profile: Profile) -> set[tuple[str, Any]]:
    """Every (export identifier, value) that finds ``profile``. A device_id finds nothing: the
    fake has no SDK, so no devices."""
    keys = {("braze_id", profile.braze_id)}
    if profile.external_id is not None:
        keys.add(("external_ids", profile.external_id))
    keys.update(("user_aliases", alias) for alias in profile.aliases)
    for identifier, name in STANDARD_NAME.items():
        value = profile.standard.get(name)
        if value is not None and _indexable(value):
            keys.add((identifier, value))
    return keys


# A track object's identifier -> the export request's name for the same identifier.
STANDARD_NAME = {"email_address": "email", "phone": "phone"}


def identifying(obj: dict[str, Any]) -> tuple[str, Any]:
    """How a track object names its user, in the export request's terms."""
    if obj.get("external_id") is not None:
        return "external_ids", obj["external_id"]
    if obj.get("user_alias") is not None:
        alias = obj["user_alias"]
        return "user_aliases", (alias["alias_name"], alias["alias_label"])
    if obj.get("braze_id") is not None:
        return "braze_id", obj["braze_id"]
    if obj.get("email") is not None:
        return "email_address", obj["email"]
    return "phone", obj["phone"]


def apply_attributes(profile: Profile, obj: dict[str, Any]) -> None:
    merge = obj.get("_merge_objects") is True
    for name, value in obj.items():
        if name in IDENTIFIER_KEYS or name in OBJECT_FLAGS:
            continue
        held = profile.standard if name in STANDARD_ATTRIBUTES else profile.custom
        new = updated_value(held.get(name), value, merge)
        if new is DELETE:
            held.pop(name, None)
        else:
            held[name] = new


# Standard attributes the export names as fields (docs/braze.md); the rest are not exported.
EXPORTED_STANDARD = (
    "first_name", "last_name", "email", "dob", "home_city", "country", "phone", "language",
    "time_zone", "gender", "email_subscribe", "push_subscribe",
)  # fmt: skip


def exported(profile: Profile) -> dict[str, Any]:
    """The profile as Braze's export shows it: a field left unset is left out."""
    shown: dict[str, Any] = {"braze_id": profile.braze_id, "created_at": profile.created_at}
    if profile.external_id is not None:
        shown["external_id"] = profile.external_id
    if profile.aliases:
        shown["user_aliases"] = [{"alias_name": n, "alias_label": lb} for n, lb in profile.aliases]
    shown.update({k: profile.standard[k] for k in EXPORTED_STANDARD if k in profile.standard})
    location = profile.standard.get("current_location")
    if location:
        shown["last_coordinates"] = [location["longitude"], location["latitude"]]
    if profile.custom:
        shown["custom_attributes"] = copy.deepcopy(profile.custom)
    if profile.events:
        shown["custom_events"] = [o.exported(name) for name, o in profile.events.items()]
    if profile.purchases:
        shown["purchases"] = [o.exported(name) for name, o in profile.purchases.items()]
    return shown
