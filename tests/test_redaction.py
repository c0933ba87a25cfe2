"""Masking helpers: sensitive attributes and source paths hidden, everything else untouched."""

from mappings.log_pages.redaction import (
    MASK,
    Sensitivity,
    mask_braze_body,
    mask_conversation,
    mask_text,
)

SENSITIVE = Sensitivity(frozenset({"email", "phone"}), frozenset({"user.email", "answers[1]"}))


def test_it_masks_sensitive_attributes_and_leaves_the_original_alone():
    body = {"attributes": [{"external_id": "u1", "email": "a@b.c", "city": "Porto"}]}

    masked = mask_braze_body(body, SENSITIVE)

    assert masked["attributes"][0] == {"external_id": "u1", "email": MASK, "city": "Porto"}
    assert body["attributes"][0]["email"] == "a@b.c"


def test_it_masks_values_at_sensitive_source_paths_including_list_items():
    conversation = {"user": {"email": "a@b.c", "name": "Zoë"}, "answers": ["x", "+351 912"]}

    masked = mask_conversation(conversation, SENSITIVE)

    assert masked == {"user": {"email": MASK, "name": "Zoë"}, "answers": ["x", MASK]}


def test_it_ignores_paths_that_are_absent_or_not_objects():
    assert mask_conversation({"user": "plain"}, SENSITIVE) == {"user": "plain"}
    assert mask_braze_body(None, SENSITIVE) is None


def test_it_scrubs_known_values_from_free_text():
    assert mask_text('{"email": "a@b.c"} invalid', {"a@b.c"}) == f'{{"email": "{MASK}"}} invalid'
