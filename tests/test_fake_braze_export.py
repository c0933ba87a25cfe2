"""The fake Braze's POST /users/export/ids over real HTTP: it reads back what /users/track wrote."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mappings.fake_braze import FakeBraze, Fault

KEY = "export-test-key-0000-7d1e"
WRITE_ONLY_KEY = "write-only-key-0000-31aa"
READ_ONLY_KEY = "read-only-key-0000-52bb"
ROOT = Path(__file__).resolve().parents[1]
FIELDS = ["external_id", "first_name", "email", "country", "dob", "custom_attributes"]


@pytest.fixture(scope="module")
def server():
    permissions = {WRITE_ONLY_KEY: ["users.track"], READ_ONLY_KEY: ["users.export.ids"]}
    with FakeBraze(api_keys={KEY}, key_permissions=permissions) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    return server


def track(fake, *attributes, key=KEY, **arrays):
    body = {"attributes": list(attributes), **arrays} if attributes else arrays
    answer = requests.post(f"{fake.url}/users/track", json=body, headers=bearer(key), timeout=5)
    assert answer.status_code == 201, answer.text
    return answer


def export(fake, key=KEY, **body):
    body.setdefault("fields_to_export", FIELDS)
    return requests.post(f"{fake.url}/users/export/ids", json=body, headers=bearer(key), timeout=5)


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def only_user(answer):
    assert answer.status_code == 201, answer.text
    [user] = answer.json()["users"]
    return user


# -- reading back what was written ------------------------------------------------------------


def test_it_exports_the_standard_and_custom_attributes_a_track_request_set(fake):
    track(fake, {"external_id": "u1", "first_name": "Ada", "email": "ada@example.com",
                 "country": "GB", "dob": "1990-12-10", "plan": "pro", "visits": 3})  # fmt: skip

    answer = export(fake, external_ids=["u1"])

    assert answer.json()["message"] == "success"
    assert only_user(answer) == {
        "external_id": "u1",
        "first_name": "Ada",
        "email": "ada@example.com",
        "country": "GB",
        "dob": "1990-12-10",
        "custom_attributes": {"plan": "pro", "visits": 3},
    }


def test_a_later_write_overwrites_and_a_null_deletes(fake):
    track(fake, {"external_id": "u1", "first_name": "Ada", "plan": "pro", "colour": "red"})
    track(fake, {"external_id": "u1", "first_name": "Grace", "plan": None})

    user = only_user(export(fake, external_ids=["u1"]))

    assert user["first_name"] == "Grace"
    assert user["custom_attributes"] == {"colour": "red"}


def test_an_increment_adds_to_the_stored_number_and_starts_from_zero(fake):
    track(fake, {"external_id": "u1", "visits": {"inc": 2}, "credits": 10})
    track(fake, {"external_id": "u1", "visits": {"inc": 3}, "credits": {"inc": -4}})

    user = only_user(export(fake, external_ids=["u1"]))

    assert user["custom_attributes"] == {"visits": 5, "credits": 6}


def test_array_add_and_remove_change_the_stored_array_keeping_values_unique(fake):
    track(fake, {"external_id": "u1", "topics": ["billing", "billing", "returns"]})
    track(fake, {"external_id": "u1", "topics": {"add": ["returns", "shipping"]}})
    track(fake, {"external_id": "u1", "topics": {"remove": ["billing"]}})

    user = only_user(export(fake, external_ids=["u1"]))

    assert user["custom_attributes"]["topics"] == ["returns", "shipping"]


def test_a_nested_object_is_replaced_without_merge_and_deep_merged_with_it(fake):
    first = {"tier": "gold", "address": {"city": "Leeds", "zip": "LS1"}}
    track(fake, {"external_id": "u1", "account": first}, {"external_id": "u2", "account": first})
    change = {"address": {"city": "York"}}
    track(fake, {"external_id": "u1", "account": change, "_merge_objects": True},
          {"external_id": "u2", "account": change})  # fmt: skip

    users = export(fake, external_ids=["u1", "u2"]).json()["users"]

    accounts = {user["external_id"]: user["custom_attributes"]["account"] for user in users}
    assert accounts == {
        "u1": {"tier": "gold", "address": {"city": "York", "zip": "LS1"}},
        "u2": {"address": {"city": "York"}},
    }


def test_arrays_of_objects_take_add_remove_and_update(fake):
    pets = [{"id": 1, "kind": "cat"}, {"id": 2, "kind": "dog"}]
    track(fake, {"external_id": "u1", "pets": pets})
    track(fake, {"external_id": "u1", "pets": {
        "$add": [{"id": 3, "kind": "fish"}],
        "$remove": [{"$identifier_key": "id", "$identifier_value": 1}],
        "$update": [{"$identifier_key": "id", "$identifier_value": 2,
                     "$new_object": {"name": "Rex"}}],
    }})  # fmt: skip

    user = only_user(export(fake, external_ids=["u1"]))

    assert user["custom_attributes"]["pets"] == [
        {"id": 2, "kind": "dog", "name": "Rex"},
        {"id": 3, "kind": "fish"},
    ]


def test_events_and_purchases_are_summarised_per_name_with_first_last_and_count(fake):
    def event(at):
        return {"external_id": "u1", "name": "chat_started", "time": at}

    purchase = {"external_id": "u1", "product_id": "pro", "currency": "USD", "price": 9.5,
                "time": "2026-11-20T10:00:00Z"}  # fmt: skip
    track(fake, events=[event("2026-11-20T10:15:00Z"), event("2026-11-19T08:00:00Z")])
    track(fake, events=[event("2026-11-21T09:00:00Z")], purchases=[purchase])

    user = only_user(
        export(fake, external_ids=["u1"], fields_to_export=["custom_events", "purchases"])
    )

    assert user == {
        "custom_events": [{"name": "chat_started", "first": "2026-11-19T08:00:00Z",
                           "last": "2026-11-21T09:00:00Z", "count": 3}],
        "purchases": [{"name": "pro", "first": "2026-11-20T10:00:00Z",
                       "last": "2026-11-20T10:00:00Z", "count": 1}],
    }  # fmt: skip


def test_rejected_objects_leave_the_profile_alone(fake):
    track(fake, {"external_id": "u1", "first_name": "Ada"},
          {"external_id": "u1", "first_name": "Grace", "email": "not-an-email"})  # fmt: skip

    assert only_user(export(fake, external_ids=["u1"]))["first_name"] == "Ada"


def test_a_user_alias_profile_is_made_only_when_update_existing_only_is_false(fake):
    alias = {"alias_name": "conv-9", "alias_label": "bot"}
    other = {"alias_name": "conv-10", "alias_label": "bot"}
    track(fake, {"user_alias": alias, "_update_existing_only": False, "first_name": "Ada"},
          {"user_alias": other, "first_name": "Nobody"})  # fmt: skip

    answer = export(
        fake, user_aliases=[alias, other], fields_to_export=["first_name", "user_aliases"]
    )

    assert answer.json() == {
        "message": "success",
        "users": [{"first_name": "Ada", "user_aliases": [alias]}],
        "invalid_user_ids": ["conv-10"],
    }


def test_email_address_finds_the_profile_an_email_only_object_made(fake):
    track(fake, {"email": "ada@example.com", "first_name": "Ada"})

    user = only_user(export(fake, email_address="ada@example.com"))

    assert user == {"email": "ada@example.com", "first_name": "Ada"}


def test_an_email_changed_by_a_later_write_finds_the_user_only_by_the_new_one(fake):
    track(fake, {"external_id": "u1", "email": "old@example.com"})
    track(fake, {"external_id": "u1", "email": "new@example.com"})

    by_old = export(fake, email_address="old@example.com").json()
    by_new = only_user(export(fake, email_address="new@example.com"))

    assert by_old["users"] == []
    assert by_new["external_id"] == "u1"


def test_an_email_shared_by_two_users_exports_both_oldest_first(fake):
    track(fake, {"external_id": "u2", "email": "team@example.com"})
    track(fake, {"external_id": "u1", "email": "other@example.com"})
    track(fake, {"external_id": "u1", "email": "team@example.com"})  # u1 joins it later
    track(fake, {"email": "team@example.com", "first_name": "Shared"})  # updates, adds no one

    users = export(fake, email_address="team@example.com").json()["users"]

    assert [user.get("external_id") for user in users] == ["u2", "u1"]
    assert users[0]["first_name"] == "Shared"  # the oldest with that email took the write


# -- what comes back --------------------------------------------------------------------------


def test_only_the_requested_fields_are_returned(fake):
    track(fake, {"external_id": "u1", "first_name": "Ada", "email": "ada@example.com", "plan": "x"})

    user = only_user(export(fake, external_ids=["u1"], fields_to_export=["first_name"]))

    assert user == {"first_name": "Ada"}


def test_unknown_ids_go_into_invalid_user_ids_and_known_ones_come_back_in_order(fake):
    track(
        fake, {"external_id": "u2", "first_name": "Bo"}, {"external_id": "u1", "first_name": "Al"}
    )

    body = export(fake, external_ids=["u1", "ghost", "u2"]).json()

    assert [user["external_id"] for user in body["users"]] == ["u1", "u2"]
    assert body["invalid_user_ids"] == ["ghost"]


def test_no_known_user_is_a_success_with_no_users(fake):
    answer = export(fake, external_ids=["ghost"])

    assert answer.status_code == 201
    assert answer.json() == {"message": "success", "users": [], "invalid_user_ids": ["ghost"]}


def test_reset_forgets_the_profiles(fake):
    track(fake, {"external_id": "u1", "first_name": "Ada"})

    fake.reset()

    assert export(fake, external_ids=["u1"]).json()["invalid_user_ids"] == ["u1"]


def test_without_fields_to_export_a_workspace_that_allows_it_returns_every_field():
    with FakeBraze(api_keys={KEY}, export_fields_required=False) as fake:
        track(fake, {"external_id": "u1", "first_name": "Ada", "plan": "pro"})
        answer = requests.post(f"{fake.url}/users/export/ids", json={"external_ids": ["u1"]},
                               headers=bearer(KEY), timeout=5)  # fmt: skip

    user = only_user(answer)
    assert {"braze_id", "created_at", "external_id", "first_name"} <= set(user)
    assert user["custom_attributes"] == {"plan": "pro"}


# -- refusals ---------------------------------------------------------------------------------


def test_fifty_ids_are_accepted_and_fifty_one_refused_counting_aliases_too(fake):
    ids = [f"u{n}" for n in range(49)]
    alias = {"alias_name": "a", "alias_label": "b"}

    assert export(fake, external_ids=ids, user_aliases=[alias]).status_code == 201
    refused = export(fake, external_ids=[*ids, "u49"], user_aliases=[alias])

    assert refused.status_code == 400
    assert "50" in refused.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"fields_to_export": ["email"]},  # names nobody
        {"external_ids": "u1", "fields_to_export": ["email"]},
        {"external_ids": ["u1", 7], "fields_to_export": ["email"]},
        {"user_aliases": [{"alias_name": "a"}], "fields_to_export": ["email"]},
        {"email_address": ["a@example.com"], "fields_to_export": ["email"]},
        {"external_ids": ["u1"]},  # fields_to_export is required
        {"external_ids": ["u1"], "fields_to_export": []},
        {"external_ids": ["u1"], "fields_to_export": ["plan"]},  # a custom attribute's name
    ],
)
def test_a_bad_body_is_refused_with_400_and_a_message(fake, body):
    answer = requests.post(
        f"{fake.url}/users/export/ids", json=body, headers=bearer(KEY), timeout=5
    )

    assert answer.status_code == 400
    assert answer.json()["message"]


def test_unparseable_json_and_a_wrong_content_type_are_refused(fake):
    url = f"{fake.url}/users/export/ids"
    headers = {**bearer(KEY), "Content-Type": "application/json"}

    broken = requests.post(url, data=b"{", headers=headers, timeout=5)
    as_text = requests.post(url, data=b"{}", headers={**headers, "Content-Type": "text/plain"},
                            timeout=5)  # fmt: skip

    assert broken.status_code == 400
    assert broken.json()["message"].startswith("Error while parsing request body")
    assert as_text.status_code == 415


def test_a_wrong_method_is_answered_405(fake):
    answer = requests.get(f"{fake.url}/users/export/ids", headers=bearer(KEY), timeout=5)

    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"


def test_an_unknown_key_is_refused_with_401(fake):
    assert export(fake, key="nobody-knows-this-key", external_ids=["u1"]).status_code == 401


def test_a_key_without_the_export_permission_gets_403_though_it_may_write(fake):
    track(fake, {"external_id": "u1", "first_name": "Ada"}, key=WRITE_ONLY_KEY)

    refused = export(fake, key=WRITE_ONLY_KEY, external_ids=["u1"])

    assert refused.status_code == 403
    assert "users.export.ids" in refused.json()["message"]
    assert only_user(export(fake, external_ids=["u1"]))["first_name"] == "Ada"


def test_a_read_only_key_may_export_but_not_write(fake):
    written = requests.post(f"{fake.url}/users/track", json={"attributes": [{"external_id": "u1"}]},
                            headers=bearer(READ_ONLY_KEY), timeout=5)  # fmt: skip

    assert written.status_code == 403
    assert export(fake, key=READ_ONLY_KEY, external_ids=["u1"]).status_code == 201


def test_permissions_must_be_a_list_not_one_string():
    with pytest.raises(ValueError, match="list"):
        FakeBraze(api_keys=[], key_permissions={"k": "users.track"})


# -- the export's own rate limit --------------------------------------------------------------


def test_the_export_rate_limit_is_250_a_minute_by_default_and_says_so_in_headers(fake):
    answer = export(fake, external_ids=["u1"])

    assert answer.headers["X-RateLimit-Limit"] == "250"
    assert answer.headers["X-RateLimit-Remaining"] == "249"
    assert 0 < int(answer.headers["X-RateLimit-Reset"]) - time.time() <= 61


def test_past_its_budget_the_export_answers_429_while_track_goes_on():
    with FakeBraze(api_keys={KEY}, export_rate_limit=(2, 0.5), rate_limit=(100, 60)) as fake:
        answers = [export(fake, external_ids=["u1"]) for _ in range(3)]
        track_answer = track(fake, {"external_id": "u1"})
        time.sleep(0.55)
        after_window = export(fake, external_ids=["u1"])

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[2].json() == {"message": "API rate limit exceeded"}
    assert int(answers[2].headers["X-RateLimit-Reset"]) > 10**9
    assert track_answer.headers["X-RateLimit-Remaining"] == "99"  # a budget of its own
    assert after_window.status_code == 201


def test_reset_gives_the_export_its_whole_budget_back():
    with FakeBraze(api_keys={KEY}, export_rate_limit=(1, 60)) as fake:
        export(fake, external_ids=["u1"])
        fake.reset()
        answer = export(fake, external_ids=["u1"])

    assert answer.status_code == 201


# -- faults for the export only ---------------------------------------------------------------


def test_a_fault_for_the_export_leaves_track_alone_and_waits_for_an_export(fake):
    fake.add_fault(Fault(status=503, path="/users/export/ids"))

    track(fake, {"external_id": "u1", "first_name": "Ada"})
    failed = export(fake, external_ids=["u1"])

    assert failed.status_code == 503
    assert only_user(export(fake, external_ids=["u1"]))["first_name"] == "Ada"


def test_a_fault_without_a_path_is_for_track_as_before(fake):
    fake.add_fault(Fault(status=503))

    assert export(fake, external_ids=["u1"]).status_code == 201
    assert fake.pending_faults == [Fault(status=503)]


def test_a_scripted_429_on_the_export_carries_its_limit_in_the_headers(fake):
    fake.add_fault(Fault(status=429, path="/users/export/ids", reset_in=2))

    answer = export(fake, external_ids=["u1"])

    assert answer.status_code == 429
    assert answer.headers["X-RateLimit-Limit"] == "250"
    assert answer.headers["X-RateLimit-Remaining"] == "0"


def test_a_slow_export_is_answered_late_and_a_dropped_one_not_at_all(fake):
    fake.add_fault(Fault(delay_seconds=0.3, path="/users/export/ids"))
    fake.add_fault(Fault(drop_connection=True, path="/users/export/ids"))

    started = time.monotonic()
    slow = export(fake, external_ids=["u1"])
    took = time.monotonic() - started
    with pytest.raises(requests.ConnectionError):
        export(fake, external_ids=["u1"])

    assert slow.status_code == 201
    assert took >= 0.3


def test_the_control_api_scripts_an_export_fault_and_refuses_reject_indexes_for_it(fake):
    added = requests.post(f"{fake.url}/_fake/faults",
                          json={"status": 502, "path": "/users/export/ids"}, timeout=5)  # fmt: skip
    refused = requests.post(
        f"{fake.url}/_fake/faults",
        json={"reject_indexes": {"attributes": [0]}, "path": "/users/export/ids"},
        timeout=5,
    )
    wrong_path = requests.post(f"{fake.url}/_fake/faults",
                               json={"status": 502, "path": "/users/nope"}, timeout=5)  # fmt: skip

    assert added.status_code == 201
    assert refused.status_code == 400
    assert wrong_path.status_code == 400
    assert export(fake, external_ids=["u1"]).status_code == 502


def test_export_requests_are_recorded_like_track_requests(fake):
    export(fake, external_ids=["u1"])

    [record] = fake.received
    assert record.path == "/users/export/ids"
    assert record.status == 201
    assert record.body["external_ids"] == ["u1"]


def test_the_standalone_fake_takes_the_export_rate_limit_on_its_command_line():
    command = [sys.executable, "-m", "mappings.fake_braze", "--port", "0", "--api-key", KEY,
               "--export-rate-limit", "1/60"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        answers = [
            requests.post(f"{url}/users/export/ids", headers=bearer(KEY), timeout=5,
                          json={"external_ids": ["u1"], "fields_to_export": ["email"]})
            for _ in range(2)
        ]  # fmt: skip
    finally:
        process.terminate()
        process.communicate(timeout=5)

    assert [a.status_code for a in answers] == [201, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "1"
