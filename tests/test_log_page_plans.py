"""Filtered log pages: the rows asked for whichever way the database reads them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mappings.log_pages import queries
from mappings.models import ApiClient, Delivery
from mappings.roles import AUDITOR
from tests.log_rows import for_user, logged_delivery
from tests.staff import logged_in

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the bounded walk is PostgreSQL's plan"
)


@pytest.fixture
def two_clients(mapping_set, conversation):
    """Deliveries of one mapping set from client A; client B never sent through it."""
    seen, stranger = (ApiClient(name=name) for name in ("Client A", "Client B"))
    for client in (seen, stranger):
        client.issue_token()
        client.save()
    for number in range(3):
        delivery = logged_delivery(mapping_set, for_user(conversation, f"u-{number}"))
        Delivery.objects.filter(pk=delivery.pk).update(api_client=seen)
    logged_delivery(mapping_set, for_user(conversation, "u-without-client"))
    return seen, stranger


def test_a_page_filtered_by_set_and_client_lists_only_what_they_sent_together(
    client, mapping_set, two_clients
):
    seen, stranger = two_clients
    logged_in(client, "audrey", AUDITOR)
    url = f"/admin/logs/deliveries/?mapping_set={mapping_set.pk}&api_client="

    together = client.get(url + str(seen.pk)).content.decode()
    never = client.get(url + str(stranger.pk)).content.decode()

    assert all(f"u-{number}" in together for number in range(3))
    assert "u-without-client" not in together
    assert "u-0" not in never and "No deliveries match." in never


@postgres_only
def test_a_walk_that_runs_out_of_time_is_read_again_by_combining_indexes(
    monkeypatch, mapping_set, two_clients
):
    seen, _ = two_clients
    # pg_sleep per row checked makes the time-ordered walk outlast a 1 ms allowance.
    slow = Delivery.objects.filter(mapping_set=mapping_set, api_client=seen).extra(
        where=["pg_sleep(0.005) IS NOT NULL"]
    )
    monkeypatch.setattr(queries, "ORDERED_WALK_MS", 1)
    expected = list(
        Delivery.objects.filter(api_client=seen).order_by("-created_at", "-pk").values("pk")
    )

    with CaptureQueriesContext(connection) as captured:
        rows = queries.first_rows(slow.order_by("-created_at", "-pk"), 51)

    assert [{"pk": row.pk} for row in rows] == expected
    sql = " ".join(query["sql"] for query in captured.captured_queries)
    assert "statement_timeout" in sql and "enable_indexscan" in sql


@postgres_only
def test_a_page_read_leaves_the_callers_settings_as_they_were(mapping_set, two_clients):
    seen, _ = two_clients
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = '7s'")
        queries.first_rows(
            Delivery.objects.filter(api_client=seen).order_by("-created_at", "-pk"), 51
        )
        cursor.execute("SELECT current_setting('statement_timeout'), "
                       "current_setting('enable_indexscan')")  # fmt: skip
        assert cursor.fetchone() == ("7s", "on")


@postgres_only
def test_an_unfiltered_page_is_read_as_is(mapping_set, two_clients):
    with CaptureQueriesContext(connection) as captured:
        rows = queries.first_rows(Delivery.objects.order_by("-created_at", "-pk"), 51)

    assert len(rows) == 4
    assert len(captured.captured_queries) == 1
