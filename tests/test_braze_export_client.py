"""The Braze client's export call, over real HTTP against the fake Braze: what it sends, the typed
answer it returns, and the BrazeError it raises for a refusal, a rate limit or a slow Braze."""

import time

import pytest

from mappings.delivery import braze as braze_client
from mappings.fake_braze import FakeBraze, Fault
from tests.conftest import BRAZE_KEY

EXPORT = "/users/export/ids"
WRITE_ONLY_KEY = "write-only-key-0000-31aa"


def write(braze, *attributes):
    braze_client.track_users(braze.url, BRAZE_KEY, {"attributes": list(attributes)})


def test_it_returns_the_users_found_and_the_ids_braze_does_not_know(braze):
    write(braze, {"external_id": "u1", "first_name": "Ada", "plan": "pro"})

    found = braze_client.export_users(
        braze.url, BRAZE_KEY, external_ids=["u1", "ghost"], fields_to_export=["first_name"]
    )

    assert found.users == [{"external_id": "u1", "first_name": "Ada"}]
    assert found.not_found == ["ghost"]
    assert found.answer.status == 201


def test_it_asks_only_for_the_fields_named_plus_the_identifiers_it_matches_on(braze):
    alias = {"alias_name": "conv-1", "alias_label": "bot"}
    write(braze, {"user_alias": alias, "_update_existing_only": False, "first_name": "Ada",
                  "email": "ada@example.com"})  # fmt: skip

    found = braze_client.export_users(
        braze.url, BRAZE_KEY, user_aliases=[alias], fields_to_export=["first_name", "first_name"]
    )

    sent = braze.received[-1].body
    assert sent == {"fields_to_export": ["first_name", "user_aliases"], "user_aliases": [alias]}
    assert found.users == [{"first_name": "Ada", "user_aliases": [alias]}]
    assert found.not_found == []


def test_it_reads_the_rate_limit_headers_of_a_success(braze):
    before = time.time()

    found = braze_client.export_users(
        braze.url, BRAZE_KEY, external_ids=["u1"], fields_to_export=["email"]
    )

    assert (found.rate_limit.limit, found.rate_limit.remaining) == (250, 249)
    assert 0 < found.rate_limit.wait_seconds <= 61
    assert before + 59 <= found.rate_limit.resets_at_epoch <= time.time() + 61


def test_past_the_export_limit_it_raises_a_transient_error_saying_when_to_come_back():
    with FakeBraze(api_keys={BRAZE_KEY}, export_rate_limit=(1, 30)) as fake:
        braze_client.export_users(
            fake.url, BRAZE_KEY, external_ids=["u1"], fields_to_export=["email"]
        )
        with pytest.raises(braze_client.BrazeError) as raised:
            braze_client.export_users(
                fake.url, BRAZE_KEY, external_ids=["u1"], fields_to_export=["email"]
            )

    error = raised.value
    assert (error.status, error.permanent, error.ambiguous) == (429, False, False)
    assert error.rate_limit.remaining == 0
    assert 25 <= error.rate_limit.wait_seconds <= 31


def test_a_429_with_only_retry_after_is_read_as_seconds_to_wait(braze):
    braze.add_fault(Fault(status=429, header_style="retry_after", reset_in=7, path=EXPORT))

    with pytest.raises(braze_client.BrazeError) as raised:
        braze_client.export_users(
            braze.url, BRAZE_KEY, external_ids=["u1"], fields_to_export=["email"]
        )

    assert raised.value.status == 429
    assert raised.value.rate_limit.wait_seconds == 7
    assert raised.value.rate_limit.limit is None


def test_a_key_without_the_export_permission_is_a_permanent_403_and_a_wrong_key_a_401():
    with FakeBraze(api_keys={BRAZE_KEY}, key_permissions={WRITE_ONLY_KEY: ["users.track"]}) as fake:
        errors = []
        for key in (WRITE_ONLY_KEY, "not-a-key-at-all-0000"):
            with pytest.raises(braze_client.BrazeError) as raised:
                braze_client.export_users(
                    fake.url, key, external_ids=["u1"], fields_to_export=["email"]
                )
            errors.append(raised.value)

    assert [(e.status, e.permanent, e.ambiguous) for e in errors] == [
        (403, True, False),
        (401, True, False),
    ]
    assert "users.export.ids" in str(errors[0])


def test_a_refused_body_is_permanent_and_carries_braze_s_message(braze):
    with pytest.raises(braze_client.BrazeError) as raised:
        braze_client.export_users(
            braze.url, BRAZE_KEY, external_ids=["u1"], fields_to_export=["plan"]
        )

    assert (raised.value.status, raised.value.permanent) == (400, True)
    assert "plan" in str(raised.value)


def test_a_braze_outage_is_transient(braze):
    braze.add_fault(Fault(status=503, path=EXPORT))

    with pytest.raises(braze_client.BrazeError) as raised:
        braze_client.export_users(
            braze.url, BRAZE_KEY, external_ids=["u1"], fields_to_export=["email"]
        )

    assert (raised.value.status, raised.value.permanent) == (503, False)


def test_a_2xx_without_a_users_list_is_transient_not_an_empty_result(braze):
    braze.add_fault(Fault(status=202, path=EXPORT))  # Braze's maintenance "queued"

    with pytest.raises(braze_client.BrazeError) as raised:
        braze_client.export_users(
            braze.url, BRAZE_KEY, external_ids=["u1"], fields_to_export=["email"]
        )

    assert (raised.value.status, raised.value.permanent) == (202, False)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"delay_seconds": 10}, id="slow"),
        pytest.param({"trickle_interval_seconds": 0.2, "trickle_chunk_bytes": 2}, id="trickled"),
    ],
)
def test_a_slow_export_is_cut_at_the_deadline_while_track_is_unaffected(braze, fault):
    braze.add_fault(Fault(path=EXPORT, **fault))
    write(braze, {"external_id": "u1", "first_name": "Ada"})  # answered at once
    started = time.monotonic()

    with pytest.raises(braze_client.BrazeError) as raised:
        braze_client.export_users(
            braze.url, BRAZE_KEY, external_ids=["u1"], fields_to_export=["first_name"],
            deadline=started + 0.6,
        )  # fmt: skip

    elapsed = time.monotonic() - started
    error = raised.value
    assert 0.55 <= elapsed < 1.1, elapsed
    assert error.status is None and not error.permanent
    assert error.ambiguous  # it reached Braze: it may have spent a rate-limit slot
    assert "deadline" in str(error)
    assert [r.status for r in braze.received] == [201, 201]


@pytest.mark.parametrize("count", [0, 51])
def test_outside_1_to_50_ids_it_refuses_before_sending_anything(braze, count):
    with pytest.raises(ValueError, match="50"):
        braze_client.export_users(
            braze.url, BRAZE_KEY, external_ids=[f"u{n}" for n in range(count)],
            fields_to_export=["email"],
        )  # fmt: skip

    assert braze.received == []


def test_fifty_ids_and_aliases_together_go_in_one_request(braze):
    aliases = [{"alias_name": f"a{n}", "alias_label": "bot"} for n in range(10)]

    found = braze_client.export_users(
        braze.url, BRAZE_KEY, external_ids=[f"u{n}" for n in range(40)], user_aliases=aliases,
        fields_to_export=["email"],
    )  # fmt: skip

    assert len(braze.received) == 1
    assert len(found.not_found) == 50
