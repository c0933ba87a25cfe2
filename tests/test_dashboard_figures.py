"""The dashboard's counted figures: counted once, read from the cache while fresh, counted
again by the background job for the windows in use, and by the page itself when the job is not
running. Deliveries come through the real ingest API against the fake Braze over HTTP."""

import re

import pytest

from mappings import periodic_jobs
from mappings.fake_braze import Fault
from mappings.log_pages import dashboard_figures
from mappings.roles import INTEGRATION_ADMIN
from tests.conftest import conversation_for
from tests.staff import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    return logged_in(client, "olga", INTEGRATION_ADMIN)


def delivered_count(page: str) -> int:
    row = re.search(r'<tr class="series-row">(.*?)</tr>', page, re.S).group(1)
    return int(re.search(r'<td class="delivered">(\d+)</td>', row).group(1))


def queue_depth(page: str) -> int:
    return int(re.search(r'<strong id="queue-depth">(\d+)</strong>', page).group(1))


def age_of(kept: str, seconds: float) -> None:
    """Make the kept figures of a window look ``seconds`` old."""
    key = dashboard_figures.KEY.format(kept)
    figures = dashboard_figures.cache.get(key)
    older = dashboard_figures.Figures(
        figures.counted_at - seconds, figures.series, figures.braze_reasons,
        figures.rejection_reasons, figures.data_points,
    )  # fmt: skip
    dashboard_figures.cache.set(key, older)


def test_a_view_reads_the_kept_counts_until_the_job_counts_again(operator, ingest, settings):
    settings.DASHBOARD_REFRESH_SECONDS = 60
    ingest.post("support-bot", conversation_for("u-1"))
    assert delivered_count(operator.get("/admin/logs/").content.decode()) == 1

    ingest.post("support-bot", conversation_for("u-2"))
    page = operator.get("/admin/logs/").content.decode()
    assert delivered_count(page) == 1  # kept from the first view
    assert "as counted 0 s ago (counted again every 60 s" in page

    dashboard_figures.cache.delete(dashboard_figures.LOCK_KEY)  # the interval has passed
    assert dashboard_figures.refresh_viewed() == ["day"]
    assert delivered_count(operator.get("/admin/logs/").content.decode()) == 2


def test_the_queue_stays_live_while_the_counts_are_kept(operator, ingest, braze, settings):
    settings.DASHBOARD_REFRESH_SECONDS = 60
    operator.get("/admin/logs/")
    braze.add_fault(Fault(status=503, times=5))
    ingest.post("support-bot", conversation_for("u-1"))

    assert queue_depth(operator.get("/admin/logs/").content.decode()) == 1


def test_counts_older_than_two_refreshes_are_counted_by_the_page(operator, ingest, settings):
    settings.DASHBOARD_REFRESH_SECONDS = 60
    ingest.post("support-bot", conversation_for("u-1"))
    operator.get("/admin/logs/")
    ingest.post("support-bot", conversation_for("u-2"))

    age_of("day", 121)  # no job has counted for two refreshes

    assert delivered_count(operator.get("/admin/logs/").content.decode()) == 2


def test_with_refresh_off_every_view_counts(operator, ingest, settings):
    settings.DASHBOARD_REFRESH_SECONDS = 0
    ingest.post("support-bot", conversation_for("u-1"))
    operator.get("/admin/logs/")
    ingest.post("support-bot", conversation_for("u-2"))

    assert delivered_count(operator.get("/admin/logs/").content.decode()) == 2


def test_the_job_counts_only_windows_in_use_and_one_process_at_a_time(operator, settings):
    settings.DASHBOARD_REFRESH_SECONDS = 60
    assert dashboard_figures.refresh_viewed() == []  # nobody looked: nothing counted
    dashboard_figures.cache.delete(dashboard_figures.LOCK_KEY)
    operator.get("/admin/logs/?window=week")

    assert dashboard_figures.refresh_viewed() == ["week"]
    assert dashboard_figures.refresh_viewed() == []  # another process, same interval


def test_the_dashboard_job_is_registered():
    assert "dashboard" in [job.name for job in periodic_jobs.jobs()]


def test_the_job_counts_what_every_window_shares_once_per_round(operator, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.DASHBOARD_REFRESH_SECONDS = 60
    for window in ("hour", "day", "week"):
        operator.get(f"/admin/logs/?window={window}")
    dashboard_figures.cache.delete(dashboard_figures.LOCK_KEY)

    with CaptureQueriesContext(connection) as seen:
        assert dashboard_figures.refresh_viewed() == ["hour", "day", "week"]

    data_point_sums = [
        q for q in seen.captured_queries if 'SUM("mappings_delivery"."data_points")' in q["sql"]
    ]
    assert len(data_point_sums) == 1
