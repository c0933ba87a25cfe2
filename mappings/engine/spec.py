"""What a mapping is, as plain data, and the checks configuration can run without the engine.

Configuration code (the models, admin forms and config files) builds a ``MappingSpec`` and
checks single fields here; only ``mapping.py`` compiles and runs a spec. Nothing here touches
the database or the network.
"""

from dataclasses import dataclass
from typing import Any

from mappings.engine import sources, transforms
from mappings.engine.sources import SOURCE_TYPES
from mappings.engine.targets import DEFAULT_MAX_ARRAY_LENGTH, OPERATIONS

__all__ = ["OPERATIONS", "SOURCE_TYPES"]

IDENTIFIER_TYPES = ("external_id", "user_alias", "email", "phone")
POLICIES = ("reject", "drop_field")


@dataclass(frozen=True)
class RowSpec:
    source_path: str  # the source text: a JMESPath path, a constant or a template
    target: str
    required: bool = False
    source_type: str = "path"
    transforms: tuple[Any, ...] = ()  # JSON configurations, see transforms.py
    operation: str = "set"
    sensitive: bool = False
    label: str = ""  # how problems name the row ("row 3"); defaults to its index


@dataclass(frozen=True)
class MappingSpec:
    identifier_path: str
    rows: tuple[RowSpec, ...]
    partner: str | None = None
    identifier_type: str = "external_id"
    identifier_transforms: tuple[Any, ...] = ()
    alias_label: str = ""
    on_problem: str = "reject"
    max_array_length: int = DEFAULT_MAX_ARRAY_LENGTH


@dataclass(frozen=True)
class SpecProblem:
    location: str  # like rows[2].transforms[0]
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    @property
    def field(self) -> str:
        """The part of a row or of the identifier at fault: source, target or transforms."""
        tail = self.location.split(".", 1)[-1]
        return tail.split("[", 1)[0].split(".", 1)[0]


class InvalidMapping(ValueError):
    def __init__(self, problems: list[SpecProblem]):
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


def path_problem(text: str) -> str | None:
    """Why ``text`` is not a usable JMESPath source path, or None when it is."""
    try:
        sources.compile_path(text)
    except sources.SourceError as error:
        return str(error)
    return None


def transform_problems(configs: Any, where: str = "transforms") -> list[SpecProblem]:
    """Every problem of a list of transform configurations, each with its location."""
    if not isinstance(configs, list | tuple):
        return [SpecProblem(where, "must be a list of transforms")]
    return [
        SpecProblem(f"{where}[{index}]", message)
        for index, config in enumerate(configs)
        for message in transforms.check(config)
    ]


# The profile fields /users/export/ids accepts in fields_to_export (docs/braze.md).
EXPORT_FIELDS = frozenset(
    {
        "apps",
        "attributed_campaign",
        "attributed_source",
        "attributed_adgroup",
        "attributed_ad",
        "braze_id",
        "campaigns_received",
        "canvases_received",
        "cards_clicked",
        "country",
        "created_at",
        "custom_attributes",
        "custom_events",
        "devices",
        "dob",
        "email",
        "email_subscribe",
        "external_id",
        "first_name",
        "gender",
        "home_city",
        "language",
        "last_coordinates",
        "last_name",
        "phone",
        "purchases",
        "push_subscribe",
        "push_tokens",
        "random_bucket",
        "time_zone",
        "total_revenue",
        "uninstalled_at",
        "user_aliases",
    }
)


@dataclass(frozen=True)
class LookupRowSpec:
    """One read row: a Braze profile field (``email``, ``custom_attributes.address.city``) and
    the name the bot gets its value under."""

    braze_field: str
    bot_name: str
    transforms: tuple[Any, ...] = ()
    sensitive: bool = False
    label: str = ""


def lookup_field_problem(text: str) -> str | None:
    """Why ``text`` names no exportable profile field, or None when it does."""
    parts = (text or "").split(".")
    if parts[0] not in EXPORT_FIELDS:
        return f"'{parts[0]}' is not a field /users/export/ids exports"
    if any(not part.strip() for part in parts):
        return "a dotted path has an empty part"
    if len(parts) > 1 and parts[0] != "custom_attributes":
        return "only custom_attributes has named parts (custom_attributes.tier)"
    return None
