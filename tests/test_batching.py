"""Packing deliveries into /users/track requests (never more objects in one request than
Braze's limit, every object sent once, in order) and mapping Braze's errors back."""

import random

import pytest

from mappings.delivery.batching import ARRAYS, Item, errors_by_key, pack


def _random_items(rng: random.Random, count: int) -> list[Item]:
    items = []
    for number in range(count):
        payload = {
            kind: [{"external_id": f"u{number}", "n": i} for i in range(rng.randint(0, 3))]
            for kind in ARRAYS
        }
        if rng.random() < 0.2:
            payload["partner"] = "pypestream"
        items.append(Item(number, {k: v for k, v in payload.items() if v}))
    return items


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("mode", ["total", "per_array"])
def test_no_request_exceeds_the_limit_and_every_object_is_sent_once_in_order(seed, mode):
    rng = random.Random(seed)
    limit = rng.choice([1, 5, 75])
    items = _random_items(rng, rng.randint(0, 200))

    batches = pack(items, limit=limit, mode=mode)

    for batch in batches:
        counts = [len(batch.body.get(kind, [])) for kind in ARRAYS]
        single = len(batch.keys) == 1
        assert single or (sum(counts) if mode == "total" else max(counts)) <= limit
        assert len({items[k].payload.get("partner") for k in batch.keys}) == 1
    for kind in ARRAYS:
        expected = [obj for item in items for obj in item.payload.get(kind, [])]
        sent = [obj for b in batches for obj in b.body.get(kind, [])]
        assert sorted(map(repr, sent)) == sorted(map(repr, expected))
    order = [key for b in batches for key in b.keys]
    assert sorted(order) == [item.key for item in items]
    for batch in batches:  # within a request, deliveries keep their arrival order
        assert batch.keys == sorted(batch.keys)


def test_it_packs_75_single_object_deliveries_per_request():
    items = [Item(n, {"attributes": [{"external_id": f"u{n}"}]}) for n in range(200)]

    assert [len(b.keys) for b in pack(items, limit=75)] == [75, 75, 50]


def test_brazes_error_indexes_are_mapped_back_to_each_delivery():
    items = [
        Item("a", {"attributes": [{"external_id": "a"}]}),
        Item("b", {"attributes": [{"external_id": "b"}], "events": [{"name": "x"}]}),
        Item("c", {"events": [{"name": "y"}, {"name": "z"}]}),
    ]
    [batch] = pack(items, limit=75)
    errors = [
        {"type": "bad email", "input_array": "attributes", "index": 1},
        {"type": "bad time", "input_array": "events", "index": 2},
    ]

    found = errors_by_key(batch, errors)

    assert found == {
        "b": [{"type": "bad email", "input_array": "attributes", "index": 0}],
        "c": [{"type": "bad time", "input_array": "events", "index": 1}],
    }
