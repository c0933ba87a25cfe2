"""Braze's bill: the data points a /users/track body spends, counted by Braze's public rules
(docs/braze.md, "Data points (billing)"), stored per delivery and shown per day on the dashboard."""

import pytest
from django.urls import reverse

from mappings.engine.data_points import data_points
from mappings.models import Delivery, FieldMapping, MappingSet
from mappings.roles import INTEGRATION_ADMIN
from tests.staff import logged_in


def test_identifiers_and_free_fields_cost_nothing():
    body = {"attributes": [{
        "external_id": "u-1", "_update_existing_only": False, "country": "PT", "language": "pt",
        "email_subscribe": "opted_in", "subscription_groups": [{"subscription_group_id": "g"}],
    }]}  # fmt: skip
    assert data_points(body) == 0


def test_each_attribute_set_costs_one_even_null_or_a_whole_array():
    body = {"attributes": [{"external_id": "u-1", "email": "a@b.co", "gone": None,
                            "topics": ["a", "b", "c"]}]}  # fmt: skip
    assert data_points(body) == 3


def test_array_additions_and_removals_cost_one_per_value_and_inc_costs_one():
    body = {"attributes": [{"braze_id": "b", "tags": {"add": ["x", "y"], "remove": ["z"]},
                            "visits": {"inc": 3}}]}  # fmt: skip
    assert data_points(body) == 4


def test_a_nested_object_costs_one_per_key_at_every_depth():
    nested = {"plan": "pro", "since": {"$time": "2026-01-01T00:00:00Z"}, "seats": {"used": 2}}
    body = {"attributes": [{"external_id": "u-1", "account": nested, "_merge_objects": True}]}
    # plan, since (a date is a value), seats, seats.used
    assert data_points(body) == 4


def test_each_event_and_purchase_costs_one():
    body = {
        "events": [{"external_id": "u", "name": "a", "time": "2026-01-01T00:00:00Z"}] * 2,
        "purchases": [{"external_id": "u", "product_id": "p", "currency": "EUR", "price": 1,
                       "time": "2026-01-01T00:00:00Z", "properties": {"size": "M"}}],
    }  # fmt: skip
    assert data_points(body) == 3


@pytest.fixture
def billed_set(mapping_set: MappingSet) -> MappingSet:
    """The support bot's set plus a free field, an array, array additions and an event."""
    rows = [
        ("PT", "country", "set", "constant"),
        ("answers.topics", "topics", "set", "path"),
        ("answers.tags", "tags", "add", "path"),
        ("chat_finished", "events[0].name", "set", "constant"),
        ("answers.city", "events[0].properties.city", "set", "path"),
    ]
    for position, (source, target, operation, kind) in enumerate(rows, start=10):
        FieldMapping.objects.create(
            mapping_set=mapping_set, position=position, source_path=source, source_type=kind,
            target_attribute=target, operation=operation,
        )  # fmt: skip
    return mapping_set


@pytest.mark.django_db
def test_a_delivered_sample_spends_what_a_hand_count_by_braze_rules_says(
    billed_set, ingest, braze, conversation
):
    conversation["answers"].update(topics=["billing", "refunds"], tags=["vip", "eu", "new"])
    assert ingest.post("support-bot", conversation).status_code == 200
    [sent] = [request.body for request in braze.received]
    [attributes] = sent["attributes"]
    assert [event["name"] for event in sent["events"]] == ["chat_finished"]
    assert set(attributes) == {"external_id", "email", "first_name", "home_city",
                               "plan_interest", "country", "topics", "tags"}  # fmt: skip
    hand_count = (
        0  # external_id: an identifier, not an attribute
        + 4  # email, first_name, home_city, plan_interest: each attribute set is one point
        + 0  # country: Braze does not bill it (BRAZE_API.md: a free data point)
        + 1  # topics: an array set whole is a single point, however many values
        + 3  # tags: values added to an array cost one point each
        + 1  # the event: each event is one point (its properties are not billed by default)
    )
    delivery = Delivery.objects.get()
    assert delivery.status == "delivered"
    assert delivery.data_points == hand_count == 9
    assert delivery.data_points_saved == 0


@pytest.mark.django_db
def test_the_dashboard_shows_points_spent_and_saved_per_set_and_day(
    mapping_set, ingest, braze, conversation, client, django_user_model
):
    mapping_set.dedup_unchanged_attributes = True
    mapping_set.save()
    assert ingest.post("support-bot", conversation).status_code == 200
    conversation["answers"]["city"] = "Porto"  # only home_city changed: 3 attributes skipped
    assert ingest.post("support-bot", conversation).status_code == 200
    first, second = Delivery.objects.order_by("created_at")
    assert (first.data_points, first.data_points_saved) == (4, 0)
    assert (second.data_points, second.data_points_saved) == (1, 3)

    logged_in(client, "oscar", INTEGRATION_ADMIN)
    page = client.get(reverse("logs:dashboard")).content.decode()
    day = first.created_at.strftime("%Y-%m-%d")
    row = page.split(f'id="data-points-support-bot-{day}">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="spent">5</td>' in row
    assert '<td class="saved">3</td>' in row
