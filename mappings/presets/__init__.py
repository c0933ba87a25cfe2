"""Platform presets: a starting mapping set per bot platform, as configuration data.

One YAML document per platform id beside this file (``dialogflow-cx.yaml``, ``rasa.yaml``, ...),
each with the platform, a name, a description of its choices (above all, which field identifies
the user) and a ``mapping_set`` in the format of docs/config-format.md without its slug, name
and environment. :func:`mapping_set_document` fills those in, so a preset goes through the same
validation and import as a configuration file (mappings/management/config_io.py), then is edited
like any other set. Data, not code: a newcomer reads or changes a preset without reading Python.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

_HERE = Path(__file__).resolve().parent


class UnknownPreset(LookupError):
    """No preset for that platform id; the message lists the ones there are."""


@dataclass(frozen=True)
class Preset:
    platform: str
    name: str
    description: str
    mapping_set: dict[str, Any]  # the document's set, without slug, name and environment


def platforms() -> list[str]:
    """The platform ids with a preset, sorted."""
    return sorted(path.stem for path in _HERE.glob("*.yaml"))


@cache
def _load(platform: str) -> Preset:
    document = yaml.safe_load((_HERE / f"{platform}.yaml").read_text(encoding="utf-8"))
    return Preset(
        document["platform"], document["name"], document["description"], document["mapping_set"]
    )


def preset(platform: str) -> Preset:
    """The preset of ``platform``; ``UnknownPreset`` naming the known ones if there is none."""
    if platform not in platforms():
        raise UnknownPreset(f"no preset for {platform!r}; known: {', '.join(platforms())}")
    return _load(platform)


def mapping_set_document(
    platform: str, *, slug: str, environment: str, name: str | None = None
) -> dict[str, Any]:
    """A mapping-set document (docs/config-format.md) made from the platform's preset."""
    chosen = preset(platform)
    copied = yaml.safe_load(yaml.safe_dump(chosen.mapping_set))  # callers may edit their copy
    return {"slug": slug, "name": name or chosen.name, "environment": environment, **copied}
