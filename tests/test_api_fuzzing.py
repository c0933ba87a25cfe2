"""Fuzzing the public API: random and hostile JSON never gets a 5xx (S6, S12).

Hypothesis drives random, deeply nested JSON, huge strings, unicode (lone surrogates included),
nulls, non-finite numbers and wrong types through the ingest endpoint. Schemathesis then runs
against the live schema of a running server, checking every answer against the schema.
Example counts are bounded so each database pass stays well under a minute.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings.models import ApiClient, Delivery, FieldMapping, MappingSet

FUZZ_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any character, lone surrogates included (Hypothesis leaves them out by default).
any_text = st.text(st.characters(exclude_categories=()), max_size=50)
huge_text = st.builds(lambda ch, n: ch * n, st.characters(exclude_categories=()), st.sampled_from(
    [1_000, 100_000, 600_000]
))  # fmt: skip
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(any_text, children, max_size=6)
    ),
    max_leaves=40,
)
deep = st.integers(min_value=1, max_value=3_000).map(lambda n: "[" * n + "]" * n)


def _conversation_shaped(user_id, email, first_name, answers) -> dict:
    return {
        "user": {"id": user_id, "profile": {"email": email, "first_name": first_name}},
        "answers": answers,
    }


conversations = st.builds(
    _conversation_shaped, json_values | huge_text, json_values, json_values | huge_text, json_values
)
raw_bodies = (
    json_values.map(lambda v: json.dumps(v))
    | conversations.map(
        lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")
    )
    | deep.map(lambda nesting: '{"user": {"id": "u-1"}, "x": ' + nesting + "}")
    | st.binary(max_size=200)
)  # fmt: skip


def _assert_answer_is_not_a_server_error(response) -> None:
    assert response.status_code < 500 or response.status_code == 502, response.content[:500]
    body = response.json()
    assert isinstance(body["success"], bool)
    if not body["success"]:
        assert isinstance(body["error"]["code"], str)


@pytest.mark.django_db
@FUZZ_SETTINGS
@given(body=raw_bodies)
def test_random_and_hostile_bodies_never_get_a_server_error(ingest, braze, body):
    response = ingest.post("support-bot", body)

    _assert_answer_is_not_a_server_error(response)
    if response.status_code in (400, 413):
        assert not Delivery.objects.filter(received_payload__isnull=True).exists()


@pytest.mark.django_db
@FUZZ_SETTINGS
@given(conversation=conversations)
def test_random_values_in_a_conversation_are_delivered_refused_or_rejected(
    ingest, braze, conversation
):
    raw = json.dumps(conversation, ensure_ascii=True)

    response = ingest.post("support-bot", raw)

    _assert_answer_is_not_a_server_error(response)
    assert response.status_code in (200, 400, 413, 422, 502)


CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
        "unsupported_method",
    ]
)


@pytest.fixture
def demo_mapping_set(environment) -> MappingSet:
    """The mapping set the schema's examples name, so the examples phase delivers for real."""
    mapping_set = MappingSet.objects.create(
        slug="pypestream-demo", name="Demo", environment=environment,
        identifier_source_path="user.id",
    )  # fmt: skip
    FieldMapping.objects.create(
        mapping_set=mapping_set, source_path="user.email", target_attribute="email", required=True
    )
    FieldMapping.objects.create(
        mapping_set=mapping_set, source_path="user.first_name", target_attribute="first_name"
    )
    return mapping_set


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_server_error_or_schema_violation_on_the_live_api(
    live_server, api_token, demo_mapping_set, braze, settings, tmp_path
):
    settings.API_THROTTLE_RATE = "100000/min"  # the run itself must not be throttled
    ApiClient.objects.get().mapping_sets.add(demo_mapping_set)

    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"), "run", f"{live_server.url}/api/schema/",
            "--checks", CHECKS, "--max-examples", "100", "--workers", "1",
            "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all",
            "--request-timeout", "20", "--header", f"Authorization: Bearer {api_token}",
            "--report-dir", str(tmp_path), "--no-shrink",
        ],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert Delivery.objects.filter(status="delivered").exists(), "no example reached Braze"
