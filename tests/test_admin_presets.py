"""The admin's "Add from a platform preset": a small form, then the new set's change page."""

import pytest

from mappings.models import MappingSet
from mappings.roles import AUDITOR, INTEGRATION_ADMIN
from tests import staff

pytestmark = pytest.mark.django_db

PAGE = "/admin/mappings/mappingset/add-from-preset/"


def logged_in(client, django_user_model, group: str):
    return staff.logged_in(client, "olga", group)


@pytest.fixture
def admin(client, django_user_model):
    return logged_in(client, django_user_model, INTEGRATION_ADMIN)


def test_the_changelist_links_to_the_preset_page(admin):
    page = admin.get("/admin/mappings/mappingset/").content.decode()

    assert f'href="{PAGE}" id="add-from-preset"' in page


def test_the_form_offers_every_platform_and_describes_each_preset(admin, environment):
    page = admin.get(PAGE).content.decode()

    for platform in ("dialogflow-cx", "rasa", "twilio-studio", "lex-v2"):
        assert f'<option value="{platform}">' in page
    assert "rasa_sender_id" in page  # the description says how the user is identified
    assert "sandbox" in page


def test_creating_from_a_preset_lands_on_the_new_sets_change_page(admin, environment):
    response = admin.post(
        PAGE,
        {"platform": "twilio-studio", "slug": "sms-bot", "name": "", "environment": environment.pk},
        follow=True,
    )

    mapping_set = MappingSet.objects.get(slug="sms-bot")
    assert response.redirect_chain == [
        (f"/admin/mappings/mappingset/{mapping_set.pk}/change/", 302)
    ]
    page = response.content.decode()
    assert "Created Twilio Studio flow (sms-bot) from the twilio-studio preset" in page
    assert 'value="session_id"' in page  # the identifier, ready to edit
    assert mapping_set.identifier_type == "phone" and mapping_set.rows.count() == 9
    assert mapping_set.history.get().history_user.username == "olga"


def test_the_created_set_is_edited_like_any_other(admin, environment):
    from tests.admin_forms import mapping_set_change_form

    admin.post(PAGE, {"platform": "rasa", "slug": "rasa-bot", "environment": environment.pk})
    mapping_set = MappingSet.objects.get(slug="rasa-bot")

    response = admin.post(
        f"/admin/mappings/mappingset/{mapping_set.pk}/change/",
        mapping_set_change_form(mapping_set, name="Inês's bot", _publish="Publish"),
    )

    assert response.status_code == 302
    mapping_set.refresh_from_db()
    assert mapping_set.name == "Inês's bot" and mapping_set.version == 2


def test_a_slug_in_use_is_refused_on_the_form_and_nothing_changes(admin, mapping_set):
    response = admin.post(
        PAGE, {"platform": "rasa", "slug": "support-bot", "environment": mapping_set.environment.pk}
    )

    assert response.status_code == 200
    assert "A mapping set &#x27;support-bot&#x27; already exists." in response.content.decode()
    mapping_set.refresh_from_db()
    assert mapping_set.name == "Support bot" and mapping_set.rows.count() == 4


def test_an_unknown_platform_is_refused_by_the_form(admin, environment):
    response = admin.post(PAGE, {"platform": "msn", "slug": "x", "environment": environment.pk})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not MappingSet.objects.exists()


def test_an_auditor_can_neither_see_the_link_nor_use_the_page(
    client, django_user_model, environment
):
    auditor = logged_in(client, django_user_model, AUDITOR)

    assert 'id="add-from-preset"' not in auditor.get("/admin/mappings/mappingset/").content.decode()
    assert auditor.get(PAGE).status_code == 403
    response = auditor.post(PAGE, {"platform": "rasa", "slug": "x", "environment": environment.pk})
    assert response.status_code == 403 and not MappingSet.objects.exists()
