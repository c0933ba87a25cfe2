"""The admin's Lookups page: a mapping set's TTL and read rows, saved as edited and recorded as
the set's next published version; the lookup log."""

from mappings.admin.lookups import NOTE
from mappings.management import config_io
from mappings.models import Lookup, LookupField, MappingVersion


def _form(mapping_set, ttl, rows):
    data = {
        "lookup_ttl_seconds": ttl, "lookup_fields-TOTAL_FORMS": len(rows),
        "lookup_fields-INITIAL_FORMS": 0, "lookup_fields-MIN_NUM_FORMS": 0,
        "lookup_fields-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for index, (field, name, transforms) in enumerate(rows):
        prefix = f"lookup_fields-{index}-"
        data |= {f"{prefix}position": index, f"{prefix}braze_field": field,
                 f"{prefix}bot_name": name, f"{prefix}transforms": transforms}  # fmt: skip
    return data


def test_an_admin_sets_the_ttl_and_read_rows_of_a_mapping_set(admin_client, mapping_set):
    url = f"/admin/mappings/lookupsettings/{mapping_set.pk}/change/"
    rows = [("custom_attributes.tier", "tier", '["upper"]'), ("first_name", "name", "[]")]

    response = admin_client.post(url, _form(mapping_set, 60, rows))

    assert response.status_code == 302, response.content.decode()[:2000]
    mapping_set.refresh_from_db()
    assert mapping_set.lookup_ttl_seconds == 60
    saved = list(LookupField.objects.values_list("braze_field", "bot_name", "transforms"))
    assert saved == [("custom_attributes.tier", "tier", ["upper"]), ("first_name", "name", [])]
    changed = mapping_set.history.order_by("-history_date").first()
    assert changed.lookup_ttl_seconds == 60
    assert changed.history_user is not None
    assert LookupField.history.filter(history_type="+").count() == 2


def test_a_read_row_naming_no_exportable_field_is_refused_with_the_reason(
    admin_client, mapping_set
):
    url = f"/admin/mappings/lookupsettings/{mapping_set.pk}/change/"

    response = admin_client.post(url, _form(mapping_set, 300, [("favourite_colour", "c", "[]")]))

    assert response.status_code == 200
    assert "is not a field /users/export/ids exports" in response.content.decode()
    assert not LookupField.objects.exists()


def test_the_lookup_log_lists_lookups_read_only(admin_client, mapping_set):
    Lookup.objects.create(mapping_set=mapping_set, environment=mapping_set.environment,
                          external_id="u-9", fields=["email"], outcome="hit")  # fmt: skip

    page = admin_client.get("/admin/mappings/lookup/")

    assert page.status_code == 200
    assert "u-9" in page.content.decode()
    assert admin_client.get("/admin/mappings/lookup/add/").status_code == 403


def _edit_form(mapping_set, ttl, rows):
    """The page's post with the set's saved read rows (``rows``: their new values, in order)."""
    saved = list(mapping_set.lookup_fields.all())
    data = _form(mapping_set, ttl, rows)
    data["lookup_fields-INITIAL_FORMS"] = len(saved)
    for index, row in enumerate(saved):
        data |= {f"lookup_fields-{index}-id": row.pk,
                 f"lookup_fields-{index}-mapping_set": mapping_set.pk}  # fmt: skip
    return data


def test_a_save_is_recorded_as_a_published_version_whose_diff_names_the_read_rows(
    admin_client, mapping_set
):
    config_io.record_version(mapping_set, "first", None)
    url = f"/admin/mappings/lookupsettings/{mapping_set.pk}/change/"
    admin_client.post(url, _form(mapping_set, 300, [("custom_attributes.tier", "tier", "[]")]))

    response = admin_client.post(
        url, _edit_form(mapping_set, 60, [("custom_attributes.tier", "tier", '["upper"]')])
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    mapping_set.refresh_from_db()
    live = MappingVersion.live(mapping_set)
    assert (mapping_set.version, live.number, live.note) == (3, 3, NOTE)
    assert live.author is not None
    assert live.document == config_io.mapping_set_document(mapping_set)
    assert live.document["lookups"]["rows"][0]["transforms"] == ["upper"]
    listing = admin_client.get(f"/admin/mappings/mappingset/{mapping_set.pk}/versions/")
    text = listing.content.decode()
    assert "1 setting changed, 1 read row changed" in text and "1 read row added" in text
    page = admin_client.get(f"/admin/mappings/mappingset/{mapping_set.pk}/versions/3/")
    diff = page.content.decode().split('id="version-diff"')[1].split("</div>")[0]
    assert "lookups.ttl_seconds</strong>: 300 → 60" in diff
    assert (
        "read row <strong>tier</strong> changed:" in diff and "transforms: \u2013 → upper" in diff
    )
    assert "<code>custom_attributes.tier</code></td><td>tier</td>" in page.content.decode()


def test_a_save_that_changes_nothing_records_no_version(admin_client, mapping_set):
    LookupField.objects.create(mapping_set=mapping_set, braze_field="email", bot_name="email")
    config_io.record_version(mapping_set, "first", None)
    url = f"/admin/mappings/lookupsettings/{mapping_set.pk}/change/"

    response = admin_client.post(url, _edit_form(mapping_set, 300, [("email", "email", "[]")]))

    assert response.status_code == 302, response.content.decode()[:2000]
    mapping_set.refresh_from_db()
    assert mapping_set.version == 1
    assert list(mapping_set.versions.values_list("number", "status")) == [(1, "published")]


def test_an_integration_admin_edits_read_rows_and_an_auditor_only_reads_them(
    client, django_user_model, mapping_set
):
    from mappings.roles import AUDITOR, INTEGRATION_ADMIN
    from tests.staff import staff_member

    url = f"/admin/mappings/lookupsettings/{mapping_set.pk}/change/"
    people = {group: staff_member(name, group) for name, group in (
        ("ines", INTEGRATION_ADMIN), ("aldo", AUDITOR))}  # fmt: skip
    rows = [("first_name", "name", "[]")]

    client.force_login(people[AUDITOR])
    assert client.get(url).status_code == 200
    assert client.get("/admin/mappings/lookup/").status_code == 200  # the lookup log
    client.post(url, _form(mapping_set, 60, rows))
    assert not LookupField.objects.exists()

    client.force_login(people[INTEGRATION_ADMIN])
    assert client.post(url, _form(mapping_set, 60, rows)).status_code == 302
    assert list(LookupField.objects.values_list("bot_name", flat=True)) == ["name"]
