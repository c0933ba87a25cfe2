"""One name per page: the sidebar, the top links, the title and the breadcrumbs agree; the
stock changelists of the log rows are not listed beside the log pages; model names read as
the admin says them."""

import re

import pytest

from mappings.models import Environment

pytestmark = pytest.mark.django_db

LOG_PAGES = {
    "/admin/logs/": "Dashboard",
    "/admin/logs/deliveries/": "Deliveries",
    "/admin/logs/calls/": "Braze calls",
    "/admin/logs/changes/": "Configuration changes",
}


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-unused-1")
    client.force_login(user)
    return client


def sidebar(page: str) -> str:
    return page.split('id="nav-sidebar"')[1].split("</nav>")[0]


def link_texts(html: str, url: str) -> set[str]:
    return set(re.findall(rf'<a href="{re.escape(url)}"[^>]*>([^<]+)</a>', html))


@pytest.mark.parametrize(("url", "name"), LOG_PAGES.items())
def test_each_log_page_has_one_name_everywhere(admin, url, name):
    page = admin.get(url).content.decode()

    assert re.search(r"<title>([^|<]+) \|", page).group(1) == name
    crumbs = page.split('class="breadcrumbs"')[1].split("</div>")[0]
    assert crumbs.rstrip().endswith(f"\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} {name}")
    assert link_texts(sidebar(page), url) == {name}
    tools = page.split('id="user-tools"')[1].split("</div>")[0]
    assert link_texts(tools, url) == {name}
    tabs = page.split('class="bridge-tabs"')[1].split("</nav>")[0]
    assert link_texts(tabs, url) == {name}


def test_the_sidebar_lists_no_stock_changelist_of_the_log_rows(admin):
    page = admin.get("/admin/mappings/environment/").content.decode()

    nav = sidebar(page)
    assert "/admin/mappings/delivery/" not in nav
    assert "/admin/mappings/deliveryattempt/" not in nav
    assert 'id="sidebar-logs"' in nav
    index = admin.get("/admin/").content.decode()
    assert "/admin/mappings/delivery/" not in index


def test_the_raw_rows_stay_reachable_under_their_own_name(admin):
    for url, title, log_page in [
        ("/admin/mappings/delivery/", "Raw delivery rows", "/admin/logs/deliveries/"),
        ("/admin/mappings/deliveryattempt/", "Raw Braze call rows", "/admin/logs/calls/"),
    ]:
        page = admin.get(url).content.decode()
        assert f"<h1>{title}</h1>" in page
        crumbs = page.split('class="breadcrumbs"')[1].split("</div>")[0]
        assert f'href="{log_page}"' in crumbs


def test_models_are_named_as_the_admin_says_them(admin, environment):
    page = admin.get("/admin/").content.decode()

    assert ">Braze credentials</a>" in page and ">API clients</a>" in page
    Environment.objects.create(name="prod", rest_endpoint="https://rest.iad-01.braze.com")
    added = admin.post(
        "/admin/mappings/brazecredential/add/",
        {"environment": Environment.objects.get(name="prod").pk, "api_key": "k-unused-0000"},
        follow=True,
    ).content.decode()
    assert "The Braze credential" in added
