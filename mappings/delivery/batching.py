"""Packing deliveries into /users/track requests, and mapping Braze's answer back to each.

Pure functions over plain data. Rules kept here:
- no request holds more objects than the limit ("total" across the three arrays, or
  "per_array" for older Braze contracts);
- one delivery's objects are never split across requests, and deliveries keep their order,
  so one user's changes reach Braze in the order they were received;
- only deliveries with the same top-level "partner" share a request.
"""

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

ARRAYS = ("attributes", "events", "purchases")


@dataclass(frozen=True)
class Item:
    key: Hashable
    payload: dict[str, Any]

    @property
    def counts(self) -> dict[str, int]:
        return {kind: len(self.payload.get(kind) or []) for kind in ARRAYS}


@dataclass
class Batch:
    """One request body and, per delivery key, the indexes its objects took in each array."""

    body: dict[str, Any]
    positions: dict[Hashable, dict[str, list[int]]] = field(default_factory=dict)

    @property
    def keys(self) -> list[Hashable]:
        return list(self.positions)

    @property
    def object_count(self) -> int:
        return sum(len(self.body.get(kind, [])) for kind in ARRAYS)


def _fits(batch: Batch, counts: dict[str, int], limit: int, mode: str) -> bool:
    if not batch.positions:
        return True  # an oversized delivery still goes alone; Braze's answer says why
    if mode == "per_array":
        return all(len(batch.body.get(k, [])) + counts[k] <= limit for k in ARRAYS)
    return batch.object_count + sum(counts.values()) <= limit


def _add(batch: Batch, item: Item) -> None:
    where: dict[str, list[int]] = {}
    for kind in ARRAYS:
        objects = item.payload.get(kind) or []
        if not objects:
            continue
        target = batch.body.setdefault(kind, [])
        where[kind] = list(range(len(target), len(target) + len(objects)))
        target.extend(objects)
    batch.positions[item.key] = where


def pack(items: Iterable[Item], *, limit: int, mode: str = "total") -> list[Batch]:
    """Requests for ``items`` in order, each within ``limit`` objects."""
    open_batches: dict[Any, Batch] = {}
    done: list[Batch] = []
    for item in items:
        partner = item.payload.get("partner")
        batch = open_batches.get(partner)
        if batch is not None and not _fits(batch, item.counts, limit, mode):
            done.append(batch)
            batch = None
        if batch is None:
            batch = Batch(body={"partner": partner} if partner else {})
            open_batches[partner] = batch
        _add(batch, item)
    done.extend(open_batches.values())
    return done


def errors_by_key(batch: Batch, errors: list[dict[str, Any]]) -> dict[Hashable, list[dict]]:
    """Braze's per-object errors (``input_array`` + ``index``) grouped by delivery key.

    Each error keeps Braze's ``type`` text and gets the delivery's own index back, so a
    delivery's reason reads as if it had been sent alone.
    """
    owner: dict[tuple[str, int], tuple[Hashable, int]] = {}
    for key, where in batch.positions.items():
        for kind, indexes in where.items():
            for local, index in enumerate(indexes):
                owner[(kind, index)] = (key, local)
    found: dict[Hashable, list[dict]] = {}
    for error in errors:
        spot = owner.get((str(error.get("input_array")), error.get("index")))
        if spot is None:
            continue
        key, local = spot
        found.setdefault(key, []).append({**error, "index": local})
    return found
