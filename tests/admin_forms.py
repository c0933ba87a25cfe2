"""Build the admin's mapping-set change form (with its row inline) from what is saved."""

import json

from mappings.models import MappingSet


def _row_fields(prefix: str, row) -> dict:
    fields = {
        f"{prefix}id": row.pk, f"{prefix}mapping_set": row.mapping_set_id,
        f"{prefix}position": row.position, f"{prefix}source_path": row.source_path,
        f"{prefix}target_attribute": row.target_attribute, f"{prefix}source_type": row.source_type,
        f"{prefix}operation": row.operation, f"{prefix}transforms": json.dumps(row.transforms),
    }  # fmt: skip
    for flag in ("required", "is_sensitive"):
        if getattr(row, flag):
            fields[f"{prefix}{flag}"] = "on"
    return fields


def mapping_set_change_form(mapping_set: MappingSet, **changes) -> dict:
    """The POST data of an unchanged save, with ``changes`` applied on top."""
    rows = list(mapping_set.rows.all())
    data = {
        "name": mapping_set.name, "slug": mapping_set.slug,
        "environment": mapping_set.environment_id, "is_active": "on",
        "identifier_source_path": mapping_set.identifier_source_path,
        "identifier_type": mapping_set.identifier_type, "alias_label": mapping_set.alias_label,
        "identifier_transforms": json.dumps(mapping_set.identifier_transforms),
        "on_problem": mapping_set.on_problem, "braze_partner": mapping_set.braze_partner,
        "delivery_mode": mapping_set.delivery_mode,
        "sync_budget_seconds": mapping_set.sync_budget_seconds or "",
        "dedup_unchanged_attributes": "on" if mapping_set.dedup_unchanged_attributes else "",
        "partial_success": mapping_set.partial_success,
        "rows-TOTAL_FORMS": len(rows), "rows-INITIAL_FORMS": len(rows),
        "rows-MIN_NUM_FORMS": 0, "rows-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for index, row in enumerate(rows):
        data |= _row_fields(f"rows-{index}-", row)
    return data | changes


def draft_change_form(mapping_set: MappingSet, document: dict, **changes) -> dict:
    """The POST data of the change page as drawn from a draft: its rows are new (no ids)."""
    data = mapping_set_change_form(mapping_set)
    data = {key: value for key, value in data.items() if not key.startswith("rows-")}
    rows = document["rows"]
    data |= {
        "_edit_base": "draft", "rows-TOTAL_FORMS": len(rows), "rows-INITIAL_FORMS": 0,
        "rows-MIN_NUM_FORMS": 0, "rows-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for index, row in enumerate(rows):
        prefix = f"rows-{index}-"
        data |= {
            f"{prefix}position": index, f"{prefix}source_path": row["source"],
            f"{prefix}source_type": row["source_type"], f"{prefix}target_attribute": row["target"],
            f"{prefix}operation": row["operation"],
            f"{prefix}transforms": json.dumps(row["transforms"]),
        }  # fmt: skip
        for key, flag in (("required", "required"), ("sensitive", "is_sensitive")):
            if row[key]:
                data[f"{prefix}{flag}"] = "on"
    return data | changes
