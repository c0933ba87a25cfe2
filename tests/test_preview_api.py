"""POST /api/v1/ingest/<slug>/preview/: the exact Braze body and problems, nothing sent or kept."""

import json

import pytest

from mappings.models import Delivery, FieldMapping

pytestmark = pytest.mark.django_db


def preview(ingest, slug, body, **kwargs):
    return ingest.client.generic(
        "POST", f"/api/v1/ingest/{slug}/preview/", json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {kwargs.get('token', ingest.token)}"},
    )  # fmt: skip


def test_it_answers_the_body_that_would_be_sent_without_sending_or_storing(
    ingest, braze, conversation
):
    response = preview(ingest, "support-bot", conversation)

    assert response.status_code == 200
    body = response.json()
    assert body["would_send"] is True
    assert body["mapping_version"] == 1
    assert body["payload"]["attributes"][0]["email"] == "zoe@example.com"
    assert body["problems"] == []
    assert braze.received == []
    assert Delivery.objects.count() == 0


def test_it_lists_the_problems_that_would_reject_the_record(ingest, braze, conversation):
    del conversation["user"]["profile"]["email"]

    body = preview(ingest, "support-bot", conversation).json()

    assert body["would_send"] is False
    assert body["missing"] == ["user.profile.email"]
    assert body["problems"][0]["code"] == "missing"
    assert Delivery.objects.count() == 0


def test_it_uses_the_same_authentication_as_ingest(ingest, braze, conversation):
    assert preview(ingest, "support-bot", conversation, token="bzb_wrong").status_code == 401
    assert preview(ingest, "no-such-bot", conversation).status_code == 404


def test_the_drop_field_policy_sends_the_rest_and_logs_the_problems(
    ingest, braze, conversation, mapping_set
):
    FieldMapping.objects.create(
        mapping_set=mapping_set, position=9, source_path="answers.birthday",
        target_attribute="dob", transforms=["dob"],
    )  # fmt: skip
    mapping_set.on_problem = "drop_field"
    mapping_set.save()
    conversation["answers"]["birthday"] = "the day after tomorrow"

    response = ingest.post("support-bot", conversation)

    assert response.status_code == 200
    [attributes] = braze.received[0].body["attributes"]
    assert "dob" not in attributes
    assert attributes["home_city"] == "Lisbon"
    delivery = Delivery.objects.get()
    assert delivery.status == "delivered"
    assert [problem["target"] for problem in delivery.problems] == ["dob"]
    assert response.json()["problems"][0]["value"] == "the day after tomorrow"


def test_a_changed_row_is_used_by_the_next_request(ingest, braze, conversation, mapping_set):
    first = preview(ingest, "support-bot", conversation).json()["payload"]
    row = mapping_set.rows.get(target_attribute="home_city")
    row.transforms = ["upper"]
    row.save()

    second = preview(ingest, "support-bot", conversation).json()["payload"]

    assert first["attributes"][0]["home_city"] == "Lisbon"
    assert second["attributes"][0]["home_city"] == "LISBON"
