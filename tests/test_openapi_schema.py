"""The OpenAPI contract: committed, current, complete, and browsable offline."""

import json
import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from mappings.api import platform_examples
from mappings.api.schema import ERROR_CODES
from mappings.models import Delivery
from mappings.platforms import ADAPTERS
from tests.platform_samples import PLATFORMS, SAMPLES, mapping_set_for, post_to_platform

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "openapi.yaml"


@pytest.fixture(scope="module")
def schema() -> dict:
    return yaml.safe_load(COMMITTED.read_text())


def test_the_committed_schema_matches_the_code(tmp_path):
    generated = tmp_path / "openapi.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))

    assert generated.read_text() == COMMITTED.read_text(), (
        "docs/openapi.yaml is out of date: run scripts/openapi and commit the result"
    )


def test_the_schema_is_served_at_api_schema(schema):
    response = Client().get("/api/schema/", headers={"Accept": "application/json"})

    assert response.status_code == 200
    assert response.json()["paths"].keys() == schema["paths"].keys()


def test_every_operation_documents_its_answers_with_examples(schema):
    operations = [op for ops in schema["paths"].values() for op in ops.values()]

    assert operations
    for operation in operations:
        assert operation.get("summary"), operation["operationId"]
        for status, response in operation["responses"].items():
            where = (operation["operationId"], status)
            assert response.get("description"), where
            assert response["content"]["application/json"]["examples"], where
    ingest = schema["paths"]["/api/v1/ingest/{slug}/"]["post"]
    assert ingest["requestBody"]["content"]["application/json"]["examples"]


def test_every_error_answer_uses_the_one_error_shape(schema):
    ingest = schema["paths"]["/api/v1/ingest/{slug}/"]["post"]
    error_statuses = {"400", "401", "403", "404", "405", "406", "413", "415", "429", "503"}

    assert error_statuses <= ingest["responses"].keys()
    for status in error_statuses:
        ref = ingest["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorResponse"


def test_the_description_lists_every_error_code(schema):
    description = schema["info"]["description"]

    for codes in ERROR_CODES.values():
        for code in codes:
            assert f"`{code}`" in description
    assert "idempotency_conflict" in description


def test_429_and_503_document_their_retry_after_header(schema):
    responses = schema["paths"]["/api/v1/ingest/{slug}/"]["post"]["responses"]

    assert responses["429"]["headers"]["Retry-After"]["required"] is True
    assert responses["503"]["headers"]["Retry-After"]["required"] is True


def test_the_docs_page_loads_its_assets_from_this_server_only():
    page = Client().get("/api/docs/").content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in asset for asset in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert Client().get(asset).status_code == 200, asset


def _examples(content: dict) -> dict[str, dict]:
    """Examples by their summary ("Dialogflow CX request"), over every media type."""
    return {
        example["summary"]: example["value"]
        for media in content.values()
        for example in media.get("examples", {}).values()
    }


PLATFORM_ROUTE = "/api/v1/platforms/{platform}/{slug}/"


def test_every_platform_has_a_request_and_an_answer_example(schema):
    operation = schema["paths"][PLATFORM_ROUTE]["post"]
    requests_ = _examples(operation["requestBody"]["content"])
    answers = _examples(operation["responses"]["200"]["content"])

    [platforms] = [p for p in operation["parameters"] if p["name"] == "platform"]
    assert set(platforms["schema"]["enum"]) == set(ADAPTERS)
    for platform in ADAPTERS:
        name = platform_examples.NAMES[platform]
        assert f"{name} request" in requests_, platform
        assert f"{name} answer" in answers, platform
    assert operation["security"] == [{"bearerAuth": []}, {"basicAuth": []}]
    assert schema["components"]["securitySchemes"]["basicAuth"]["scheme"] == "basic"


def test_the_documented_requests_are_the_committed_samples(schema):
    content = schema["paths"][PLATFORM_ROUTE]["post"]["requestBody"]["content"]
    form = content["application/x-www-form-urlencoded"]["examples"]
    [twilio] = form.values()

    cx = _examples(content)["Dialogflow CX request"]
    sample = (SAMPLES / "dialogflow-cx" / "request.json").read_text()
    assert cx == json.loads(sample)
    assert twilio["value"]["session_id"] == "+447911123456"


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda platform: platform.id)
def test_each_documented_answer_is_what_the_live_route_answers(
    platform, schema, live_server, braze, environment, platform_client
):
    documented = _examples(schema["paths"][PLATFORM_ROUTE]["post"]["responses"]["200"]["content"])
    mapping_set = mapping_set_for(platform, environment)
    body, content_type = platform.sample()

    response = post_to_platform(live_server, platform.id, mapping_set.slug, body, content_type,
                     platform_client(mapping_set))  # fmt: skip

    assert response.status_code == 200, response.text
    delivery_id = str(Delivery.objects.get().pk)
    answered = json.loads(response.text.replace(delivery_id, platform_examples.DELIVERY_ID))
    assert answered == documented[f"{platform_examples.NAMES[platform.id]} answer"]
