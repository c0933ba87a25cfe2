"""The platform adapters' shared types and helpers (pure: no database, no HTTP)."""

import json

import pytest

from mappings.platforms import common
from mappings.platforms.base import (
    JSON,
    Outcome,
    PlatformRequestError,
    PlatformResponse,
    RawRequest,
)


def test_an_outcome_with_an_unknown_status_is_refused():
    with pytest.raises(ValueError, match="unknown outcome status"):
        Outcome("sent", True)


def test_a_response_is_compact_utf8_json():
    response = PlatformResponse(200, {"name": "Inês", "ok": True})

    assert response.content() == '{"name":"Inês","ok":true}'.encode()
    assert response.content_type == "application/json"


def test_headers_are_found_whatever_their_case():
    assert common.header({"x-turn-id": " t-1 "}, "X-Turn-Id") == "t-1"
    assert common.header({"X-Turn-Id": "  "}, "x-turn-id") is None
    assert common.header({}, "X-Turn-Id") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused_with_the_reason(body, message):
    with pytest.raises(PlatformRequestError, match=message):
        common.json_object(body, "Rasa")


def test_a_form_body_keeps_blank_fields_and_lists_repeated_ones():
    form = common.form_object(b"a=1&b=&tag=x&tag=y&name=In%C3%AAs+", "Twilio Studio")

    assert form == {"a": "1", "b": "", "tag": ["x", "y"], "name": "Inês "}


def test_an_unknown_content_type_is_refused_by_name():
    with pytest.raises(PlatformRequestError, match="not multipart/form-data"):
        common.body_object(b"--x", "multipart/form-data; boundary=x", "Voiceflow")


def test_a_turn_key_needs_its_unique_part_and_joins_the_rest():
    assert common.turn_key("r-1", "tag") == "r-1:tag"
    assert common.turn_key("r-1", None) == "r-1"
    assert common.turn_key(None, "session") is None
    assert common.turn_key("  ", "session") is None


def test_a_long_turn_key_is_hashed_to_fit_an_idempotency_key():
    key = common.turn_key("x" * 300)

    assert key.startswith("sha256:") and len(key) == 71
    assert common.turn_key("x" * 300) == key


def test_parameters_leave_out_nulls_blanks_absent_words_and_our_own_values():
    values = {"a": "1", "b": None, "c": " ", "d": "null", "braze_status": "queued", "e": 0}

    assert common.clean_parameters(values, absent_words=("null",)) == {"a": "1", "e": 0}


def test_options_come_from_the_query_or_a_header():
    def options(query, headers):
        return common.read_options(RawRequest(b"", JSON, headers, query))

    assert options({"messages": "1"}, {}) == {"messages": "1"}
    assert options({}, {"X-Bridge-Success-Format": "String"}) == {"success_format": "string"}
    assert options({"messages": "no", "success_format": "bool"}, {}) == {}


def test_problem_lines_never_show_the_value():
    outcome = Outcome(
        "rejected",
        False,
        problems=(
            {"row": "email", "source_path": "bridge.parameters.email", "reason": "not an email",
             "value": "secret@"},
        ),
    )  # fmt: skip

    assert common.problem_lines(outcome) == ["email (bridge.parameters.email): not an email"]


def test_outcome_words_say_why_a_record_was_not_saved():
    outcome = Outcome("failed", False, braze_message="Invalid API Key")

    assert common.outcome_words(outcome) == "Braze refused the record: Invalid API Key"


@pytest.mark.parametrize("limit", [60, 200, 1000, 5000])
def test_fit_never_exceeds_the_limit(limit):
    def build(lines, text):
        return {"id": "d-1", "lines": lines, "text": text}

    body = common.fit(build, ["problem " * 20] * 50, "word " * 400, limit)

    assert len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()) <= limit
    assert body["id"] == "d-1"


def test_fit_keeps_everything_when_it_already_fits():
    def build(lines, text):
        return {"lines": lines, "text": text}

    assert common.fit(build, ["a", "b"], "hello", 1000) == {"lines": ["a", "b"], "text": "hello"}


def test_a_resource_name_gives_its_last_segment():
    assert common.last_segment("projects/p/agent/sessions/abc") == "abc"
    assert common.last_segment(None) is None


def test_a_lex_locale_becomes_a_language_tag():
    assert common.language_tag("en_US") == "en-US"
    assert common.language_tag("pt-br") == "pt-br"
    assert common.language_tag(None) is None
