"""Draft, preview, publish: the change page never touches the live mapping until "Publish"."""

import json

import pytest

from mappings.management import config_io
from mappings.models import Delivery, FieldMapping, LookupField, MappingSet, MappingVersion
from mappings.roles import AUDITOR, INTEGRATION_ADMIN
from tests.admin_forms import draft_change_form, mapping_set_change_form
from tests.staff import logged_in

pytestmark = pytest.mark.django_db
CITY_UPPER = {"rows-2-transforms": '["upper"]'}


@pytest.fixture
def admin(client):
    return logged_in(client, "ines", INTEGRATION_ADMIN)


@pytest.fixture
def live(mapping_set) -> MappingSet:
    """The set with its version 1 recorded, as the migration records it for existing sets."""
    config_io.record_version(mapping_set, "recorded when versions were introduced", None)
    return mapping_set


def change_url(mapping_set, page: str = "change") -> str:
    return f"/admin/mappings/mappingset/{mapping_set.pk}/{page}/"


def sent_city(braze) -> str:
    return braze.received[-1].body["attributes"][0]["home_city"]


def save_draft(admin, mapping_set, **changes):
    data = mapping_set_change_form(mapping_set, _save_draft="Save draft", **changes)
    return admin.post(change_url(mapping_set), data)


def test_saving_a_draft_leaves_the_live_rows_and_ingest_unchanged(
    admin, live, ingest, conversation, braze
):
    response = save_draft(admin, live, **CITY_UPPER)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert FieldMapping.objects.get(target_attribute="home_city").transforms == []
    assert MappingSet.objects.get().version == 1
    draft = MappingVersion.draft_of(live)
    assert draft.document["rows"][2]["transforms"] == ["upper"] and draft.number == 1
    assert ingest.post("support-bot", conversation).status_code == 200
    assert sent_city(braze) == "Lisbon"


def test_the_change_page_shows_the_draft_and_keeps_its_untouched_rows(admin, live):
    save_draft(admin, live, **CITY_UPPER)

    page = admin.get(change_url(live)).content.decode()
    assert 'name="_edit_base" value="draft"' in page and "[&quot;upper&quot;]" in page
    draft = MappingVersion.draft_of(live)
    again = draft_change_form(live, draft.document, _save_draft="Save draft", name="Renamed")
    assert admin.post(change_url(live), again).status_code == 302

    document = MappingVersion.draft_of(live).document
    assert document["name"] == "Renamed" and len(document["rows"]) == 4
    assert document["rows"][2]["transforms"] == ["upper"]
    assert MappingSet.objects.get().name == "Support bot"


def test_publishing_makes_the_draft_live_as_a_new_version_with_its_note(
    admin, live, ingest, conversation, braze
):
    save_draft(admin, live, **CITY_UPPER)
    draft = MappingVersion.draft_of(live)
    data = draft_change_form(live, draft.document, _publish="Publish", publish_note="Shout cities")

    response = admin.post(change_url(live), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert MappingSet.objects.get().version == 2
    published = MappingVersion.live(live)
    assert (published.number, published.note, published.author.username) == (
        2, "Shout cities", "ines",
    )  # fmt: skip
    assert MappingVersion.objects.get(number=1).status == "superseded"
    assert MappingVersion.draft_of(live) is None
    ingest.post("support-bot", conversation)
    assert sent_city(braze) == "LISBON"
    assert Delivery.objects.get().mapping_version == 2


def test_publishing_a_draft_leaves_the_read_rows_as_saved_even_if_changed_since_the_draft(
    admin, live
):
    tier = LookupField.objects.create(
        mapping_set=live, braze_field="custom_attributes.tier", bot_name="tier"
    )
    save_draft(admin, live, **CITY_UPPER)
    tier.transforms = ["upper"]  # saved on the Lookups page while the draft waits
    tier.save()
    records = LookupField.history.count()
    draft = MappingVersion.draft_of(live)
    data = draft_change_form(live, draft.document, _publish="Publish", publish_note="cities")

    response = admin.post(change_url(live), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(live.lookup_fields.values_list("pk", "braze_field", "bot_name", "transforms")) == [
        (tier.pk, "custom_attributes.tier", "tier", ["upper"])
    ]
    assert LookupField.history.count() == records
    published = MappingVersion.live(live)
    assert published.document["lookups"]["rows"] == [
        {"braze_field": "custom_attributes.tier", "bot_name": "tier", "transforms": ["upper"],
         "sensitive": False},
    ]  # fmt: skip
    assert published.document["rows"][2]["transforms"] == ["upper"]


def test_preview_changes_maps_the_newest_accepted_conversation_and_highlights_the_change(
    admin, live, ingest, conversation, braze
):
    ingest.post("support-bot", conversation)
    rejected = {"user": {"id": "u-9"}, "answers": {"city": "Porto"}}  # no email: required
    assert ingest.post("support-bot", rejected).status_code == 422
    data = mapping_set_change_form(live, preview_count="5", **CITY_UPPER)

    page = admin.post(change_url(live, "preview-changes"), data).content.decode()

    assert "delivered" in page and "rejected, " not in page.split("<table")[0]
    assert "<td><code>answers.city</code></td><td>Lisbon</td>" in page
    assert 'class="change-changed" data-change="changed"' in page
    assert "<code>attributes.home_city</code></td><td>Lisbon</td><td>LISBON</td>" in page
    assert "row <strong>home_city</strong> changed" in page
    assert page.count('<tr class="change-changed"><td>') == 1  # of the 2 replayed, the accepted
    assert MappingVersion.draft_of(live) is None
    assert FieldMapping.objects.get(target_attribute="home_city").transforms == []


def test_preview_changes_uses_a_pasted_conversation_and_names_its_problems(admin, live):
    pasted = '{"user": {"id": "u-1", "profile": {"first_name": "Ana"}}}'
    data = mapping_set_change_form(live, preview_conversation=pasted)

    page = admin.post(change_url(live, "preview-changes"), data).content.decode()

    assert "the pasted conversation" in page and "would reject (422)" in page
    assert "required field is missing" in page


def test_rows_are_checked_with_the_set_as_edited_and_the_problem_names_the_row(admin, live):
    # Each row's own form knows the saved identifier type; only the whole document shows that
    # the email row now collides with the new identifier.
    data = mapping_set_change_form(live, _publish="Publish", identifier_type="email")

    response = admin.post(change_url(live), data)

    assert response.status_code == 200
    assert "Row 1 (email), target: &#x27;email&#x27; is the user identifier" in (
        response.content.decode()
    )
    assert MappingSet.objects.get().version == 1


def test_the_version_page_shows_its_rows_and_the_diff_to_the_previous(admin, live):
    save_draft(admin, live, **CITY_UPPER)
    draft = MappingVersion.draft_of(live)
    admin.post(change_url(live), draft_change_form(live, draft.document, _publish="Publish",
                                                   publish_note="Shout cities"))  # fmt: skip

    page = admin.get(f"/admin/mappings/mappingset/{live.pk}/versions/2/").content.decode()

    assert "Shout cities" in page and "plan_interest" in page
    assert (
        "row <strong>home_city</strong> changed:" in page and "transforms: \u2013 → upper" in page
    )
    listing = admin.get(change_url(live, "versions")).content.decode()
    assert "1 row changed" in listing
    changes = admin.get("/admin/logs/changes/").content.decode()
    assert "Support bot (support-bot) v2 (Shout cities)" in changes
    assert "row home_city: transforms" in changes


def test_the_delivery_page_links_to_the_version_that_mapped_it(admin, live, ingest, conversation):
    ingest.post("support-bot", conversation)
    delivery = Delivery.objects.get()

    page = admin.get(f"/admin/logs/deliveries/{delivery.pk}/").content.decode()

    assert f'href="/admin/mappings/mappingset/{live.pk}/versions/1/"' in page


def test_an_auditor_reads_versions_but_cannot_preview_or_publish(client, live):
    logged_in(client, "olga", AUDITOR)
    data = mapping_set_change_form(live, _publish="Publish", **CITY_UPPER)

    assert client.get(change_url(live, "versions/1")).status_code == 200
    assert client.post(change_url(live, "preview-changes"), data).status_code == 403
    assert client.post(change_url(live), data).status_code == 403
    assert MappingSet.objects.get().version == 1


def test_an_import_records_each_set_as_a_published_version(environment):
    document = {"format": config_io.FORMAT, "mapping_sets": [
        {"slug": "bot", "name": "Bot", "environment": environment.name,
         "identifier": {"source": "user.id"}, "rows": [{"source": "a", "target": "city"}]},
    ]}  # fmt: skip
    config_io.import_document(document)
    document["mapping_sets"][0]["delivery"] = {"mode": "async"}
    config_io.import_document(document)

    versions = MappingVersion.objects.order_by("number")
    assert [(v.number, v.status) for v in versions] == [(1, "superseded"), (2, "published")]
    assert MappingSet.objects.get().delivery_mode == "async"
    assert versions[1].document["delivery"]["mode"] == "async"


def test_a_bad_delivery_setting_in_a_document_is_named(environment):
    value = {"slug": "bot", "name": "Bot", "environment": environment.name,
             "identifier": {"source": "user.id"}, "delivery": {"mode": "sometimes"}}  # fmt: skip

    problems = config_io.mapping_set_problems(value)

    assert [p.location for p in problems] == ["mapping.delivery.mode"]


def test_preview_changes_shows_each_transform_as_words_not_code(admin, live):
    phone_row = {"rows-3-transforms": json.dumps(
        [{"name": "phone", "region_from": "answers.country", "region": "BR"}])}  # fmt: skip
    pasted = '{"user": {"id": "u-1", "profile": {"email": "a@b.co", "first_name": "Ana"}}}'
    data = mapping_set_change_form(live, preview_conversation=pasted, **phone_row)

    page = admin.post(change_url(live, "preview-changes"), data).content.decode()

    assert "<code>phone (region_from: answers.country, region: BR)</code>" in page
    assert "{&#x27;name&#x27;" not in page and "{'name'" not in page
