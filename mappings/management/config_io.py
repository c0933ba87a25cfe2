"""Configuration as code: environments and mapping sets as a JSON or YAML document.

The format is documented in docs/config-format.md. Secrets are never part of it: an environment
is its name and REST endpoint; its Braze API key stays in the database of each installation.
:func:`validate_document` reports every problem with its location
(``mapping_sets[0].rows[3].transforms[1]``) before :func:`import_document` writes anything.
"""

import json
from dataclasses import dataclass, replace
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from mappings import braze_endpoints, presets
from mappings.engine import mapping
from mappings.engine.spec import MappingSpec, RowSpec
from mappings.management import read_rows
from mappings.models import Environment, FieldMapping, MappingSet, MappingVersion

FORMAT = "braze-bridge-config/1"
_SET_KEYS = {
    "slug", "name", "environment", "is_active", "partner", "on_problem", "identifier", "delivery",
    "lookups", "rows",
}  # fmt: skip
_IDENTIFIER_KEYS = {"type", "source", "transforms", "alias_label"}
_ROW_KEYS = {"source", "source_type", "target", "operation", "transforms", "required", "sensitive"}
# The document's delivery keys and the MappingSet fields they are (optional: absent keeps them).
DELIVERY_FIELDS = {
    "mode": "delivery_mode",
    "sync_budget_seconds": "sync_budget_seconds",
    "dedup_unchanged_attributes": "dedup_unchanged_attributes",
    "partial_success": "partial_success",
}
# The lookups section's settings (optional too); its read rows are ``rows`` (read_rows.py).
LOOKUP_FIELDS = {"ttl_seconds": "lookup_ttl_seconds"}


@dataclass(frozen=True)
class ConfigProblem:
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class InvalidConfig(ValueError):
    def __init__(self, problems: list[ConfigProblem]):
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportReport:
    environments: int
    mapping_sets: int
    rows: int
    read_rows: int  # lookups.rows; a set without a lookups section keeps its own, not counted


# -- export -------------------------------------------------------------------------------------


def environment_document(environment: Environment) -> dict[str, Any]:
    return {"name": environment.name, "rest_endpoint": environment.rest_endpoint}


def mapping_set_document(mapping_set: MappingSet, rows=None) -> dict[str, Any]:
    """One set as a plain document; ``rows`` (unsaved FieldMappings) replace its saved rows."""
    rows = mapping_set.rows.all() if rows is None else rows
    return {
        "slug": mapping_set.slug,
        "name": mapping_set.name,
        "environment": mapping_set.environment.name,
        "is_active": mapping_set.is_active,
        "partner": mapping_set.braze_partner,
        "on_problem": mapping_set.on_problem,
        "identifier": {
            "type": mapping_set.identifier_type,
            "source": mapping_set.identifier_source_path,
            "transforms": list(mapping_set.identifier_transforms or []),
            "alias_label": mapping_set.alias_label,
        },
        "delivery": {key: getattr(mapping_set, field) for key, field in DELIVERY_FIELDS.items()},
        "lookups": {
            **{key: getattr(mapping_set, field) for key, field in LOOKUP_FIELDS.items()},
            "rows": read_rows.rows_document(mapping_set),
        },
        "rows": [_row_document(row) for row in rows],
    }


def _row_document(row: FieldMapping) -> dict[str, Any]:
    return {
        "source": row.source_path,
        "source_type": row.source_type,
        "target": row.target_attribute,
        "operation": row.operation,
        "transforms": list(row.transforms or []),
        "required": row.required,
        "sensitive": row.is_sensitive,
    }


def export_document(slugs: list[str] | None = None) -> dict[str, Any]:
    sets = MappingSet.objects.select_related("environment").prefetch_related(
        "rows", "lookup_fields"
    )
    if slugs:
        sets = sets.filter(slug__in=slugs)
    sets = list(sets.order_by("slug"))
    names = {mapping_set.environment.name for mapping_set in sets}
    environments = Environment.objects.order_by("name")
    if slugs:
        environments = environments.filter(name__in=names)
    return {
        "format": FORMAT,
        "environments": [environment_document(env) for env in environments],
        "mapping_sets": [mapping_set_document(mapping_set) for mapping_set in sets],
    }


def dump(document: dict[str, Any], form: str = "yaml") -> str:
    if form == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def load(text: str) -> Any:
    """JSON or YAML (YAML is a superset of JSON); a syntax error is an ``InvalidConfig``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidConfig([ConfigProblem("file", f"not valid JSON or YAML: {error}")]) from error


# -- validation ---------------------------------------------------------------------------------


def _unknown_keys(value: dict, allowed: set[str], where: str) -> list[ConfigProblem]:
    return [ConfigProblem(f"{where}.{key}", "unknown key") for key in value if key not in allowed]


def _text(value: dict, key: str, where: str, problems: list, required: bool = True) -> str:
    found = value.get(key, None if required else "")
    if not isinstance(found, str) or (required and not found):
        problems.append(ConfigProblem(f"{where}.{key}", "must be non-empty text"))
        return ""
    return found


def _flag(value: dict, key: str, where: str, problems: list, default: bool) -> bool:
    found = value.get(key, default)
    if not isinstance(found, bool):
        problems.append(ConfigProblem(f"{where}.{key}", "must be true or false"))
        return default
    return found


def _validate_environment(value: Any, where: str) -> list[ConfigProblem]:
    if not isinstance(value, dict):
        return [ConfigProblem(where, "must be an object with name and rest_endpoint")]
    problems = _unknown_keys(value, {"name", "rest_endpoint", "api_key"}, where)
    if "api_key" in value:
        problems.append(ConfigProblem(f"{where}.api_key", "secrets do not belong in this file"))
    name = _text(value, "name", where, problems)
    endpoint = _text(value, "rest_endpoint", where, problems)
    for check, field, text in (
        (validate_slug, "name", name),
        (_endpoint, "rest_endpoint", endpoint),
    ):
        if text:
            try:
                check(text)
            except ValidationError as error:
                problems.append(ConfigProblem(f"{where}.{field}", " ".join(error.messages)))
    return problems


def _endpoint(text: str) -> None:
    braze_endpoints.validate_rest_endpoint(braze_endpoints.normalise(text))


def spec_from_document(value: Any, where: str) -> tuple[MappingSpec | None, list[ConfigProblem]]:
    """The engine's spec for one mapping-set document, and every problem found in it."""
    if not isinstance(value, dict):
        return None, [ConfigProblem(where, "must be an object")]
    problems = _unknown_keys(value, _SET_KEYS, where)
    identifier = value.get("identifier")
    if not isinstance(identifier, dict):
        problems.append(ConfigProblem(f"{where}.identifier", "must be an object with a source"))
        identifier = {}
    problems += _unknown_keys(identifier, _IDENTIFIER_KEYS, f"{where}.identifier")
    rows = value.get("rows", [])
    if not isinstance(rows, list):
        problems.append(ConfigProblem(f"{where}.rows", "must be a list"))
        rows = []
    row_specs = [(i, _row_spec(row, f"{where}.rows[{i}]", problems)) for i, row in enumerate(rows)]
    kept = [(i, row) for i, row in row_specs if row is not None]
    spec = MappingSpec(
        identifier_path=_text(identifier, "source", f"{where}.identifier", problems),
        rows=tuple(row for _, row in kept),
        partner=_text(value, "partner", where, problems, required=False) or None,
        identifier_type=identifier.get("type", "external_id"),
        identifier_transforms=tuple(identifier.get("transforms") or ()),
        alias_label=_text(identifier, "alias_label", f"{where}.identifier", problems, False),
        on_problem=value.get("on_problem", "reject"),
    )
    reported = {problem.location for problem in problems}
    for problem in mapping.validate_spec(spec):
        location = f"{where}.{_document_location(problem.location, kept)}"
        if location not in reported:
            problems.append(ConfigProblem(location, problem.message))
    return (None if problems else spec), problems


def _document_location(location: str, kept: list[tuple[int, RowSpec]]) -> str:
    """The engine numbers only the rows it got; point back at the row in the document."""
    if not location.startswith("rows["):
        return location
    engine_index, rest = location[5:].split("]", 1)
    return f"rows[{kept[int(engine_index)][0]}]{rest}"


def _row_spec(value: Any, where: str, problems: list[ConfigProblem]) -> RowSpec | None:
    if not isinstance(value, dict):
        problems.append(ConfigProblem(where, "must be an object with source and target"))
        return None
    problems += _unknown_keys(value, _ROW_KEYS, where)
    transforms = value.get("transforms", [])
    if not isinstance(transforms, list):
        problems.append(ConfigProblem(f"{where}.transforms", "must be a list"))
        transforms = []
    return RowSpec(
        source_path=_text(value, "source", where, problems),
        target=_text(value, "target", where, problems),
        required=_flag(value, "required", where, problems, False),
        source_type=value.get("source_type", "path"),
        transforms=tuple(transforms),
        operation=value.get("operation", "set"),
        sensitive=_flag(value, "sensitive", where, problems, False),
    )


def validate_document(document: Any) -> list[ConfigProblem]:
    """Every problem in ``document``; empty when it can be imported."""
    if not isinstance(document, dict):
        return [ConfigProblem("file", "must be an object with environments and mapping_sets")]
    problems = _unknown_keys(document, {"format", "environments", "mapping_sets"}, "file")
    if document.get("format") != FORMAT:
        problems.append(ConfigProblem("format", f"must be {FORMAT!r}"))
    environments = _list(document, "environments", problems)
    sets = _list(document, "mapping_sets", problems)
    for index, environment in enumerate(environments):
        problems += _validate_environment(environment, f"environments[{index}]")
    known = {env.get("name") for env in environments if isinstance(env, dict)}
    known |= set(Environment.objects.values_list("name", flat=True))
    problems += _duplicates(environments, "name", "environments")
    problems += _duplicates(sets, "slug", "mapping_sets")
    for index, value in enumerate(sets):
        problems += _validate_set(value, f"mapping_sets[{index}]", known)
    return problems


def _list(document: dict, key: str, problems: list[ConfigProblem]) -> list:
    value = document.get(key, [])
    if not isinstance(value, list):
        problems.append(ConfigProblem(key, "must be a list"))
        return []
    return value


def _duplicates(items: list, key: str, where: str) -> list[ConfigProblem]:
    seen, problems = set(), []
    for index, item in enumerate(items):
        value = item.get(key) if isinstance(item, dict) else None
        if isinstance(value, str) and value in seen:
            problems.append(ConfigProblem(f"{where}[{index}].{key}", f"'{value}' appears twice"))
        seen.add(value)
    return problems


def _validate_set(value: Any, where: str, environments: set) -> list[ConfigProblem]:
    _, problems = spec_from_document(value, where)
    if not isinstance(value, dict):
        return problems
    slug = _text(value, "slug", where, problems)
    if slug:
        try:
            validate_slug(slug)
        except ValidationError as error:
            problems.append(ConfigProblem(f"{where}.slug", " ".join(error.messages)))
    _text(value, "name", where, problems)
    _flag(value, "is_active", where, problems, True)
    environment = _text(value, "environment", where, problems)
    if environment and environment not in environments:
        problems.append(ConfigProblem(f"{where}.environment", f"no environment '{environment}'"))
    problems += _section_problems(value.get("delivery", {}), f"{where}.delivery", DELIVERY_FIELDS)
    lookups = value.get("lookups", {})
    problems += _section_problems(lookups, f"{where}.lookups", LOOKUP_FIELDS, {"rows"})
    found = read_rows.problems(lookups, f"{where}.lookups")
    return problems + [ConfigProblem(location, message) for location, message in found]


def _section_problems(
    value: Any, where: str, fields: dict[str, str], other_keys: frozenset | set = frozenset()
) -> list[ConfigProblem]:
    """A section of settings, checked by the model fields' own choices and validators
    (``other_keys``: allowed too, checked elsewhere)."""
    if not isinstance(value, dict):
        return [ConfigProblem(where, "must be an object")]
    problems = _unknown_keys(value, set(fields) | set(other_keys), where)
    for key, name in fields.items():
        if key not in value:
            continue
        field = MappingSet._meta.get_field(name)
        try:
            field.clean(value[key], None)
        except ValidationError as error:
            problems.append(ConfigProblem(f"{where}.{key}", " ".join(error.messages)))
    return problems


def mapping_set_problems(value: Any, where: str = "mapping") -> list[ConfigProblem]:
    """Every problem in one mapping-set document, as an import would find them."""
    known = set(Environment.objects.values_list("name", flat=True))
    return _validate_set(value, where, known)


# -- import -------------------------------------------------------------------------------------


def import_document(
    document: Any, *, dry_run: bool = False, note: str = "imported"
) -> ImportReport:
    """Validate everything, then write it all in one transaction (or nothing)."""
    problems = validate_document(document)
    if problems:
        raise InvalidConfig(problems)
    sets = document.get("mapping_sets", [])
    report = ImportReport(
        len(document.get("environments", [])),
        len(sets),
        sum(len(value.get("rows", [])) for value in sets),
        sum(len((value.get("lookups") or {}).get("rows", [])) for value in sets),
    )
    if not dry_run:
        _write_document(document, note)
    return report


@transaction.atomic
def _write_document(document: dict, note: str) -> None:
    for value in document.get("environments", []):
        Environment.objects.update_or_create(
            name=value["name"], defaults={"rest_endpoint": value["rest_endpoint"]}
        )
    for value in document.get("mapping_sets", []):
        record_version(_write_mapping_set(value), note, None)


def _set_fields(value: dict) -> dict[str, Any]:
    identifier = value["identifier"]
    sections = [
        (value.get("delivery", {}), DELIVERY_FIELDS),
        (value.get("lookups", {}), LOOKUP_FIELDS),
    ]
    return {
        "name": value["name"],
        "environment": Environment.objects.get(name=value["environment"]),
        "is_active": value.get("is_active", True),
        "braze_partner": value.get("partner") or "",
        "on_problem": value.get("on_problem", "reject"),
        "identifier_type": identifier.get("type", "external_id"),
        "identifier_source_path": identifier["source"],
        "identifier_transforms": identifier.get("transforms") or [],
        "alias_label": identifier.get("alias_label") or "",
        **{
            field: MappingSet._meta.get_field(field).to_python(section[key])
            for section, fields in sections
            for key, field in fields.items()
            if key in section
        },
    }


def _write_mapping_set(value: dict, target: MappingSet | None = None) -> MappingSet:
    """Write one validated set (``target``: this one, even if the slug changed; else by slug)."""
    if target is None:
        mapping_set, created = MappingSet.objects.update_or_create(
            slug=value["slug"], defaults=_set_fields(value)
        )
    else:
        mapping_set, created = target, False
        for name, field_value in {"slug": value["slug"], **_set_fields(value)}.items():
            setattr(mapping_set, name, field_value)
        mapping_set.save()
    _write_rows(mapping_set, value.get("rows", []))
    read_rows.write(mapping_set, value.get("lookups", {}))
    if not created:
        mapping_set.bump_version()  # deliveries keep the version that mapped them
    return mapping_set


def _write_rows(mapping_set: MappingSet, rows: list[dict]) -> None:
    """Rows are matched by target (unique in a set): a kept row is updated in place, so its
    history shows field: old -> new instead of a deletion and an untracked insert."""
    existing = {row.target_attribute: row for row in mapping_set.rows.all()}
    wanted = {row["target"] for row in rows}
    for row in existing.values():
        if row.target_attribute not in wanted:
            row.delete()
    for position, value in enumerate(rows):
        row = existing.get(value["target"]) or FieldMapping(mapping_set=mapping_set)
        row.position = position
        row.source_path = value["source"]
        row.source_type = value.get("source_type", "path")
        row.target_attribute = value["target"]
        row.operation = value.get("operation", "set")
        row.transforms = value.get("transforms") or []
        row.required = value.get("required", False)
        row.is_sensitive = value.get("sensitive", False)
        row.save()


def write_mapping_set(
    value: dict, *, target: MappingSet | None = None, note: str = "", author=None
) -> MappingVersion:
    """Validate one set's document, make it live and record it as its published version."""
    problems = mapping_set_problems(value)
    if problems:
        raise InvalidConfig(problems)
    with transaction.atomic():
        mapping_set = _write_mapping_set(value, target)
        return record_version(mapping_set, note, author)


def record_version(mapping_set: MappingSet, note: str, author) -> MappingVersion:
    """What is live in ``mapping_set`` now, recorded as its published version."""
    mapping_set = MappingSet.objects.select_related("environment").get(pk=mapping_set.pk)
    return MappingVersion.record_published(
        mapping_set, mapping_set_document(mapping_set), note=note, author=author
    )


def record_edit(
    mapping_set: MappingSet, before: dict[str, Any], note: str, author
) -> MappingVersion | None:
    """A change saved outside a document (the Lookups page saves read rows as edited), recorded
    like a publish when it changed the set's document (``before``): the next version number, so
    version pages and history say what is live; None when nothing changed."""
    mapping_set = MappingSet.objects.select_related("environment").get(pk=mapping_set.pk)
    if mapping_set_document(mapping_set) == before:
        return None
    mapping_set.bump_version()
    return record_version(mapping_set, note, author)


# -- presets ------------------------------------------------------------------------------------


def create_from_preset(
    platform: str, *, slug: str, environment: str, name: str | None = None
) -> MappingSet:
    """A new mapping set from ``platform``'s preset (mappings/presets/), written like an import.

    Refuses a slug already taken: an import would replace that set's rows, and a preset is only
    ever a starting point.
    """
    try:
        value = presets.mapping_set_document(
            platform, slug=slug, environment=environment, name=name
        )
    except presets.UnknownPreset as error:
        raise InvalidConfig([ConfigProblem("platform", str(error))]) from error
    if MappingSet.objects.filter(slug=slug).exists():
        raise InvalidConfig([ConfigProblem("slug", f"a mapping set '{slug}' already exists")])
    problems = validate_document({"format": FORMAT, "mapping_sets": [value]})
    if problems:  # point at the field the person typed, not at the document's insides
        raise InvalidConfig([_preset_problem(problem) for problem in problems])
    import_document({"format": FORMAT, "mapping_sets": [value]}, note=f"from the {platform} preset")
    return MappingSet.objects.get(slug=slug)


def _preset_problem(problem: ConfigProblem) -> ConfigProblem:
    return replace(problem, location=problem.location.removeprefix("mapping_sets[0]."))
