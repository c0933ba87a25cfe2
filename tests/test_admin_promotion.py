"""Promote a mapping set's published mapping to another environment in the admin: the diff shown
is what changes, history and versions record it, and ingest to the target uses it."""

import html

import pytest
import requests

from mappings.management import config_diff, config_io
from mappings.models import Environment, FieldMapping, LookupField, MappingSet, MappingVersion
from mappings.roles import AUDITOR, INTEGRATION_ADMIN
from tests.conftest import BRAZE_KEY, IngestCaller, conversation_for
from tests.staff import logged_in

pytestmark = pytest.mark.django_db


def _login(client, django_user_model, role: str):
    return logged_in(client, role.lower(), role)


@pytest.fixture
def admin(client, django_user_model):
    return _login(client, django_user_model, INTEGRATION_ADMIN)


@pytest.fixture
def prod(braze, db) -> Environment:
    environment = Environment.objects.create(name="prod", rest_endpoint=braze.url)
    environment.store_api_key(BRAZE_KEY)
    return environment


@pytest.fixture
def sandbox_set(mapping_set):
    config_io.record_version(mapping_set, "first", None)
    return mapping_set


def promote_url(mapping_set) -> str:
    return f"/admin/mappings/mappingset/{mapping_set.pk}/promote/"


def preview(admin, source, environment, slug="", note=""):
    data = {"environment": environment.pk, "target_slug": slug, "note": note, "_preview": "1"}
    response = admin.post(promote_url(source), data)
    assert response.status_code == 200
    return response


def confirm(admin, source, environment, shown, slug="", note=""):
    data = {"environment": environment.pk, "target_slug": slug, "note": note, "_apply": "1"}
    return admin.post(promote_url(source), {**data, "shown": shown})


def _shown_lines(response) -> list[str]:
    """The diff's list items as a person reads them."""
    diff = response.content.decode().split('<div id="promotion-diff">')[1].split("</div>")[0]
    items = diff.split("<li")[1:]
    text = [html.unescape(item.split(">", 1)[1].split("</li>")[0]) for item in items]
    return [
        " ".join(line.replace("<strong>", "").replace("</strong>", "").split()) for line in text
    ]


def _expected_lines(diff: config_diff.DocumentDiff) -> list[str]:
    lines = [f"setting {c.field}: {c.old_text} → {c.new_text}" for c in diff.settings]
    for noun, rows in (("row", diff.rows), ("read row", diff.read_rows)):
        for row in rows:
            fields = "; ".join(f"{c.field}: {c.old_text} → {c.new_text}" for c in row.changes)
            lines.append(
                f"{noun} {row.target} {row.kind}" + (f": {fields}" if row.kind == "changed" else "")
            )
    return lines


def test_a_first_promotion_creates_the_target_set_published_in_the_target_environment(
    admin, sandbox_set, prod, braze, platform_client
):
    page = preview(admin, sandbox_set, prod)
    assert "support-bot-prod in prod (new mapping set)" in page.content.decode()
    assert not MappingSet.objects.filter(slug="support-bot-prod").exists()

    response = confirm(admin, sandbox_set, prod, page.context["fingerprint"], note="go live")

    assert 'id="promotion-applied"' in response.content.decode()
    target = MappingSet.objects.get(slug="support-bot-prod")
    assert target.environment == prod
    [version] = target.versions.all()
    assert (version.status, version.environment) == ("published", prod)
    assert version.author.username == INTEGRATION_ADMIN.lower()
    assert version.note == "Promoted from support-bot (sandbox): go live"
    source_rows = config_io.mapping_set_document(sandbox_set)["rows"]
    assert config_io.mapping_set_document(target)["rows"] == source_rows
    ingest = IngestCaller(platform_client(target))
    answer = ingest.post("support-bot-prod", conversation_for("u-7"))
    assert answer.status_code == 200, answer.content
    assert braze.received[-1].body["attributes"][0]["home_city"] == "Lisbon"


def _change_sandbox(sandbox_set) -> None:
    """A sandbox edit: one row changed, one removed, one added, a delivery setting changed."""
    document = config_io.mapping_set_document(sandbox_set)
    document["delivery"]["dedup_unchanged_attributes"] = True
    rows = {row["target"]: row for row in document["rows"]}
    rows["home_city"]["transforms"] = ["upper"]
    del rows["plan_interest"]
    document["rows"] = [*rows.values(), {"source": "answers.city", "target": "last_city"}]
    config_io.write_mapping_set(document, target=sandbox_set, note="sandbox edit")


def test_the_diff_shown_is_what_the_promotion_changes_and_history_records_it(
    admin, sandbox_set, prod, braze, platform_client
):
    first = preview(admin, sandbox_set, prod)
    confirm(admin, sandbox_set, prod, first.context["fingerprint"])
    target = MappingSet.objects.get(slug="support-bot-prod")
    target.name = "Support bot (prod)"
    target.save()
    _change_sandbox(sandbox_set)
    before = config_io.mapping_set_document(target)

    page = preview(admin, sandbox_set, prod)
    shown = _shown_lines(page)
    assert "setting delivery.dedup_unchanged_attributes: False → True" in shown
    assert "row plan_interest removed" in shown and "row last_city added" in shown
    assert "row home_city changed: transforms: \u2013 → upper" in shown
    assert len(shown) == 4  # the name and environment are the target's own: not copied
    confirm(admin, sandbox_set, prod, page.context["fingerprint"], note="city upper")

    target = MappingSet.objects.get(pk=target.pk)
    after = config_io.mapping_set_document(target)
    assert _expected_lines(config_diff.diff_documents(before, after)) == shown
    assert after["name"] == "Support bot (prod)" and after["environment"] == "prod"
    statuses = list(target.versions.order_by("created_at").values_list("status", "environment"))
    assert statuses == [("superseded", prod.pk), ("published", prod.pk)]
    assert MappingVersion.live(target).document == after
    assert (MappingVersion.live(target).number, target.version) == (2, 2)  # planning left no trace
    assert MappingVersion.live(sandbox_set).environment == sandbox_set.environment
    row = FieldMapping.history.filter(mapping_set_id=target.pk, target_attribute="home_city")
    latest = row.latest()
    assert latest.history_user is not None and latest.transforms == ["upper"]
    assert [c.field for c in latest.diff_against(latest.prev_record).changes] == ["transforms"]
    removed = FieldMapping.history.filter(
        mapping_set_id=target.pk, target_attribute="plan_interest"
    )
    assert removed.latest().history_type == "-"
    ingest = IngestCaller(platform_client(target))
    assert ingest.post("support-bot-prod", conversation_for("u-8")).status_code == 200
    attributes = braze.received[-1].body["attributes"][0]
    assert (attributes["home_city"], attributes["last_city"]) == ("LISBON", "Lisbon")


def test_a_confirmation_of_a_diff_no_longer_true_writes_nothing(admin, sandbox_set, prod):
    first = preview(admin, sandbox_set, prod)
    confirm(admin, sandbox_set, prod, first.context["fingerprint"])
    page = preview(admin, sandbox_set, prod)  # nothing to promote: no Promote button
    assert 'name="_apply"' not in page.content.decode()
    _change_sandbox(sandbox_set)

    response = confirm(admin, sandbox_set, prod, page.context["fingerprint"])

    assert "not what you saw" in response.content.decode()
    assert MappingSet.objects.get(slug="support-bot-prod").versions.count() == 1


def test_a_slug_taken_in_another_environment_is_refused(admin, sandbox_set, prod, environment):
    MappingSet.objects.create(
        slug="faq", name="FAQ", environment=environment, identifier_source_path="user.id"
    )

    page = preview(admin, sandbox_set, prod, slug="faq")

    assert "The mapping set &#x27;faq&#x27; is in sandbox, not prod" in page.content.decode()
    assert MappingSet.objects.get(slug="faq").versions.count() == 0


def test_promotion_needs_the_change_permission(client, django_user_model, sandbox_set, prod):
    auditor = _login(client, django_user_model, AUDITOR)

    response = auditor.post(promote_url(sandbox_set), {"environment": prod.pk, "_apply": "1"})

    assert response.status_code == 403
    assert not MappingSet.objects.filter(environment=prod).exists()


def test_the_source_environment_is_not_offered(admin, sandbox_set, prod):
    page = admin.get(promote_url(sandbox_set))

    choices = [choice.pk for choice in page.context["form"].fields["environment"].queryset]
    assert choices == [prod.pk]
    versions = admin.get(f"/admin/mappings/mappingset/{sandbox_set.pk}/versions/")
    assert promote_url(sandbox_set) in versions.content.decode()


def _set_read_rows(mapping_set, rows, note="read rows") -> None:
    """Publish ``rows`` (braze_field, bot_name, transforms) as the set's read rows."""
    document = config_io.mapping_set_document(mapping_set)
    document["lookups"]["rows"] = [
        {"braze_field": field, "bot_name": name, "transforms": transforms}
        for field, name, transforms in rows
    ]
    config_io.write_mapping_set(document, target=mapping_set, note=note)


def _known_user(braze) -> None:
    body = {"attributes": [{"external_id": "u-5", "email": "U5@Example.COM", "tier": "gold"}]}
    answer = requests.post(
        f"{braze.url}/users/track", json=body, headers={"Authorization": f"Bearer {BRAZE_KEY}"},
        timeout=10,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text


def test_a_promotion_carries_the_read_rows_and_a_prod_lookup_answers_with_them(
    admin, sandbox_set, prod, braze, platform_client, live_server
):
    _set_read_rows(sandbox_set, [("custom_attributes.tier", "tier", []), ("email", "name", [])])
    first = preview(admin, sandbox_set, prod)
    assert {"read row tier added", "read row name added"} <= set(_shown_lines(first))
    confirm(admin, sandbox_set, prod, first.context["fingerprint"])
    target = MappingSet.objects.get(slug="support-bot-prod")
    before = config_io.mapping_set_document(target)
    assert [row["bot_name"] for row in before["lookups"]["rows"]] == ["tier", "name"]
    _set_read_rows(
        sandbox_set,
        [("email", "email", ["trim", "lower"]), ("custom_attributes.tier", "tier", ["upper"])],
    )

    page = preview(admin, sandbox_set, prod)
    shown = _shown_lines(page)
    assert shown == [
        "read row name removed",
        "read row email added",
        "read row tier changed: transforms: \u2013 → upper",
    ]
    confirm(admin, sandbox_set, prod, page.context["fingerprint"], note="tier in capitals")

    target = MappingSet.objects.get(pk=target.pk)
    after = config_io.mapping_set_document(target)
    assert _expected_lines(config_diff.diff_documents(before, after)) == shown
    assert (
        after["lookups"]["rows"] == config_io.mapping_set_document(sandbox_set)["lookups"]["rows"]
    )
    assert MappingVersion.live(target).document == after
    tier = LookupField.history.filter(mapping_set_id=target.pk, bot_name="tier").latest()
    assert tier.history_user is not None
    changes = tier.diff_against(tier.prev_record).changes
    assert [(c.field, c.new) for c in changes] == [("position", 1), ("transforms", ["upper"])]
    _known_user(braze)
    answer = requests.post(
        f"{live_server.url}/api/v1/lookup/support-bot-prod/", json=conversation_for("u-5"),
        headers={"Authorization": f"Bearer {platform_client(target)}"}, timeout=15,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["fields"] == {"email": "u5@example.com", "tier": "GOLD"}


def test_a_source_version_recorded_without_read_rows_promotes_its_saved_read_rows(
    admin, sandbox_set, prod
):
    LookupField.objects.create(mapping_set=sandbox_set, braze_field="first_name", bot_name="name")
    live = MappingVersion.live(sandbox_set)
    del live.document["lookups"]["rows"]  # as versions recorded before read rows were in it
    live.save()

    page = preview(admin, sandbox_set, prod)
    confirm(admin, sandbox_set, prod, page.context["fingerprint"])

    target = MappingSet.objects.get(slug="support-bot-prod")
    assert list(target.lookup_fields.values_list("braze_field", "bot_name")) == [
        ("first_name", "name")
    ]
