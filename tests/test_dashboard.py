"""The dashboard tells the two stories apart: bot data our mapping rejected, and what Braze
refused or failed; per environment it says when Braze last answered, what holds traffic and how
much waits. Deliveries come through the real ingest API against the fake Braze over HTTP."""

import re

import pytest

from mappings.fake_braze import Fault
from mappings.log_pages import dashboard
from mappings.models import Delivery, Environment
from mappings.roles import INTEGRATION_ADMIN
from tests.conftest import conversation_for
from tests.staff import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    return logged_in(client, "oscar", INTEGRATION_ADMIN)


def cell(page: str, row_id: str, css_class: str) -> str:
    """The text of the cell with ``css_class`` in the row with ``row_id``."""
    row = re.search(rf'<tr class="[^"]*" id="{row_id}">(.*?)</tr>', page, re.S).group(1)
    found = re.search(rf'<td class="{css_class}[^"]*">(.*?)</td>', row, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


@pytest.fixture
def both_stories(ingest, braze):
    """Two delivered, one rejected by the mapping (bad email), one refused by Braze."""
    for user in ("u-1", "u-2"):
        assert ingest.post("support-bot", conversation_for(user)).status_code == 200
    bad = conversation_for("u-3")
    bad["user"]["profile"]["email"] = "not-an-email"
    assert ingest.post("support-bot", bad).status_code == 422
    braze.add_fault(Fault(reject_indexes={"attributes": [0]}))
    ingest.post("support-bot", conversation_for("u-4"))
    statuses = sorted(Delivery.objects.values_list("status", flat=True))
    assert statuses == ["delivered", "delivered", "failed", "rejected"]


def test_rejections_are_counted_apart_from_braze_failures(both_stories):
    [series] = dashboard.series(dashboard.WINDOWS["day"])

    assert (series.totals.delivered, series.totals.at_braze) == (2, 1)
    assert (series.totals.rejected, series.totals.waiting) == (1, 0)
    assert series.success_rate == pytest.approx(2 / 3)  # the rejection is not a Braze failure


def test_the_page_shows_both_stories_and_a_rate_of_what_braze_judged(operator, both_stories):
    page = operator.get("/admin/logs/").content.decode()

    row = re.search(r'<tr class="series-row">(.*?)</tr>', page, re.S).group(1)
    assert '<td class="at-braze">1</td>' in row and '<td class="rejected">1</td>' in row
    assert '<td class="delivered">2</td>' in row
    assert '<td class="success-rate">67%</td>' in row
    braze_reasons = page.split('id="top-braze-reasons"')[1].split("</div>")[0]
    rejection_reasons = page.split('id="top-rejection-reasons"')[1].split("</div>")[0]
    assert "attributes[0]" in braze_reasons and "email" not in braze_reasons.split("<h2>")[0]
    assert "email" in rejection_reasons and "attributes[0]" not in rejection_reasons
    assert "only what reached Braze's judgement" in page


def test_each_environment_shows_its_last_successful_call_and_no_hold(operator, both_stories):
    page = operator.get("/admin/logs/").content.decode()

    assert " ago)" in cell(page, "environment-sandbox", "last-success")
    assert cell(page, "environment-sandbox", "hold") == "None: deliveries flow"
    assert cell(page, "environment-sandbox", "queue") == "0 waiting"


def test_a_key_braze_refuses_shows_never_reached_and_the_parked_hold(operator, ingest, braze):
    environment = Environment.objects.get(name="sandbox")
    environment.credential.set_api_key("braze-wrong-key-canary-1Ab2")
    environment.credential.save()

    ingest.post("support-bot", conversation_for("u-1"))

    page = operator.get("/admin/logs/").content.decode()
    assert cell(page, "environment-sandbox", "last-success") == "never"
    assert cell(page, "environment-sandbox", "hold").startswith("Parked: Braze refused the key")
    assert "braze-wrong-key-canary-1Ab2" not in page


def test_an_outage_shows_as_a_hold_with_the_queue_waiting(operator, ingest, braze, settings):
    settings.DELIVERY_PROBE_INTERVAL_BASE_SECONDS = 60
    settings.DELIVERY_PROBE_INTERVAL_MAX_SECONDS = 60
    braze.add_fault(Fault(status=503))

    assert ingest.post("support-bot", conversation_for("u-1")).status_code == 202

    page = operator.get("/admin/logs/").content.decode()
    hold = cell(page, "environment-sandbox", "hold")
    assert hold.startswith("Outage: 1 failed calls in a row") and "until" in hold
    assert cell(page, "environment-sandbox", "queue").startswith("1 waiting; oldest for")


def test_a_rate_limit_shows_as_its_own_hold(operator, ingest, braze):
    braze.add_fault(Fault(status=429, reset_in=120))

    assert ingest.post("support-bot", conversation_for("u-1")).status_code == 202

    page = operator.get("/admin/logs/").content.decode()
    hold = cell(page, "environment-sandbox", "hold")
    assert hold.startswith("Rate limited by Braze (429); until")


def test_the_charts_have_labelled_axes(operator, both_stories):
    page = operator.get("/admin/logs/?window=hour").content.decode()

    chart = page.split('<svg class="bridge-chart"')[1].split("</svg>")[0]
    assert chart.count("<line") >= 2 + 3  # both axes and three grid lines (0, half, peak)
    [series] = dashboard.series(dashboard.WINDOWS["hour"])
    peak = max(bucket.total for bucket in series.buckets)  # 4, unless a 5-min edge split them
    ticks = re.findall(r'class="y-tick">(\d+)<', chart)
    assert ticks == [str(t) for t in sorted({0, peak // 2, peak})]
    assert "time (UTC), one bar per 5 min" in chart
    assert 'class="y-title"' in chart and ">deliveries<" in chart
    assert len(re.findall(r'class="x-tick">\d\d-\d\d \d\d:\d\d<', chart)) == 2
    assert "1 rejected by the mapping (bot data)" in chart  # the bar's own title
