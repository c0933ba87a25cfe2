"""The admin's mapping pages: preview (identical to the API's), replay, suggestions, validation."""

import json
import re

import pytest

from mappings.management import config_io
from mappings.models import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-unused-1")
    client.force_login(user)
    return client


def page_result(response) -> dict:
    found = re.search(
        r'<script id="preview-result" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert found, response.content.decode()[:3000]
    return json.loads(found.group(1))


def preview_url(mapping_set):
    return f"/admin/mappings/mappingset/{mapping_set.pk}/preview/"


def test_the_admin_preview_equals_the_api_preview(admin, ingest, mapping_set, conversation):
    conversation["answers"]["city"] = {"not": "a city"}
    api = ingest.client.post(
        f"/api/v1/ingest/{mapping_set.slug}/preview/", conversation, format="json",
        headers={"Authorization": f"Bearer {ingest.token}"},
    ).json()  # fmt: skip

    page = admin.post(preview_url(mapping_set), {"sample": json.dumps(conversation)})

    assert page.status_code == 200
    assert page_result(page) == api
    assert api["would_send"] is False  # a problem, shown the same way on both


def test_the_page_offers_recent_conversations_and_loads_one(admin, ingest, mapping_set, braze):
    profile = {"email": "o@example.com", "first_name": "Old"}
    ingest.post("support-bot", {"user": {"id": "old", "profile": profile}})
    delivery = Delivery.objects.get()

    page = admin.post(preview_url(mapping_set), {"action": "load", "delivery": str(delivery.pk)})

    assert delivery.external_id in page.content.decode()
    assert page_result(page)["payload"]["attributes"][0]["external_id"] == "old"


def test_an_edited_unsaved_mapping_is_previewed_without_saving(admin, mapping_set, conversation):
    page = admin.get(preview_url(mapping_set))
    document = json.loads(re.search(
        r'<textarea name="mapping"[^>]*>(.*?)</textarea>', page.content.decode(), re.S
    ).group(1).replace("&quot;", '"').replace("&#x27;", "'"))  # fmt: skip
    document["rows"][2]["transforms"] = ["upper"]

    edited = admin.post(
        preview_url(mapping_set),
        {"sample": json.dumps(conversation), "mapping": json.dumps(document)},
    )

    result = page_result(edited)
    assert result["payload"]["attributes"][0]["home_city"] == "LISBON"
    assert result["mapping_version"] is None
    assert "edited, not saved" in edited.content.decode()
    assert mapping_set.rows.get(target_attribute="home_city").transforms == []


def test_replay_shows_what_an_edit_would_change(admin, ingest, mapping_set, conversation, braze):
    ingest.post("support-bot", conversation)
    other = json.loads(json.dumps(conversation))
    del other["answers"]["city"]
    ingest.post("support-bot", other)
    document = config_io.mapping_set_document(mapping_set)
    document["rows"][2]["transforms"] = ["upper"]

    page = admin.post(
        preview_url(mapping_set),
        {"action": "replay", "replay_count": "5", "mapping": json.dumps(document),
         "sample": json.dumps(conversation)},
    ).content.decode()  # fmt: skip

    assert "2 replayed" in page
    assert page.count(">changed<") == 1
    assert "LISBON" in page


def test_an_invalid_edited_mapping_is_reported_with_its_location(admin, mapping_set):
    document = config_io.mapping_set_document(mapping_set)
    document["rows"][0]["transforms"] = ["lowr"]

    page = admin.post(preview_url(mapping_set), {"mapping": json.dumps(document)})

    assert "mapping.rows[0].transforms[0]" in page.content.decode()


def test_a_row_with_a_bad_transform_is_refused_by_the_admin_form(admin, mapping_set):
    form = {
        "name": mapping_set.name, "slug": mapping_set.slug,
        "environment": mapping_set.environment_id, "is_active": "on",
        "identifier_source_path": "user.id", "identifier_type": "external_id",
        "identifier_transforms": "[]", "on_problem": "reject",
        "rows-TOTAL_FORMS": 1, "rows-INITIAL_FORMS": 0, "rows-MIN_NUM_FORMS": 0,
        "rows-MAX_NUM_FORMS": 1000, "rows-0-position": 9, "rows-0-source_type": "path",
        "rows-0-source_path": "user.phone", "rows-0-target_attribute": "phone",
        "rows-0-operation": "set", "rows-0-transforms": '[{"name": "phone", "region": "XX"}]',
    }  # fmt: skip

    response = admin.post(f"/admin/mappings/mappingset/{mapping_set.pk}/change/", form)

    assert response.status_code == 200
    assert "region" in response.content.decode()
    assert not mapping_set.rows.filter(target_attribute="phone").exists()


def test_the_mapping_set_page_suggests_seen_paths_and_lists_unmapped_ones(
    admin, ingest, mapping_set, conversation, braze
):
    conversation["answers"]["favourite-colour"] = "teal"
    ingest.post("support-bot", conversation)

    page = admin.get(f"/admin/mappings/mappingset/{mapping_set.pk}/change/").content.decode()

    assert '<datalist id="seen-paths">' in page
    assert '<option value="user.profile.email">string · e.g. zoe@example.com</option>' in page
    assert 'list="seen-paths"' in page
    unmapped = re.search(r'<ul class="unmapped-paths">(.*?)</ul>', page, re.S).group(1)
    assert "answers.&quot;favourite-colour&quot;" in unmapped
    assert "user.profile.email" not in unmapped
    assert "teal" not in unmapped  # paths only; an example shows in the suggestions alone


def test_a_user_alias_identifier_without_a_label_is_refused(admin, mapping_set):
    form = {
        "name": mapping_set.name, "slug": mapping_set.slug,
        "environment": mapping_set.environment_id, "is_active": "on",
        "identifier_source_path": "user.id", "identifier_type": "user_alias",
        "identifier_transforms": "[]", "on_problem": "reject",
        "rows-TOTAL_FORMS": 0, "rows-INITIAL_FORMS": 0, "rows-MIN_NUM_FORMS": 0,
        "rows-MAX_NUM_FORMS": 1000,
    }  # fmt: skip

    response = admin.post(f"/admin/mappings/mappingset/{mapping_set.pk}/change/", form)

    assert response.status_code == 200
    assert "a user alias needs a label" in response.content.decode()
    mapping_set.refresh_from_db()
    assert mapping_set.identifier_type == "external_id"
