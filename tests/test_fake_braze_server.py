"""The fake Braze over real HTTP: statuses, recording, keep-alive, faults, control API, CLI."""

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mappings.fake_braze import FakeBraze, Fault, ReceivedRequest, rules

KEY = "test-rest-key-0000-9f3c"
AUTH = {"Authorization": f"Bearer {KEY}"}
ROOT = Path(__file__).resolve().parents[1]


def user(n=1, **fields):
    return {"external_id": f"user-{n}", **fields}


def event(n=1, **fields):
    return {"external_id": f"user-{n}", "name": "chat_started", "time": "2026-11-20T10:15:00Z"} | (
        fields
    )


def purchase(n=1, **fields):
    base = {"external_id": f"user-{n}", "product_id": "pro", "currency": "USD", "price": 9.99}
    return base | {"time": "2026-11-20T10:15:00Z"} | fields


@pytest.fixture(scope="module")
def server():
    with FakeBraze(api_keys={KEY, "second-key-5678"}) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    return server


def track(fake, body, headers=AUTH, session=requests, **kwargs):
    kwargs.setdefault("timeout", 5)
    return session.post(f"{fake.url}/users/track", json=body, headers=headers, **kwargs)


def post_raw(fake, data, content_type="application/json", path="/users/track"):
    headers = {**AUTH, "Content-Type": content_type} if content_type else AUTH
    return requests.post(f"{fake.url}{path}", data=data, headers=headers, timeout=5)


# -- success, partial success and rejection ---------------------------------------------------


def test_it_accepts_a_valid_batch_with_201_and_a_count_per_array(fake):
    body = {"attributes": [user(1), user(2)], "events": [event()], "purchases": [purchase()]}

    answer = track(fake, body)

    assert answer.status_code == 201
    assert answer.json() == {
        "message": "success",
        "attributes_processed": 2,
        "events_processed": 1,
        "purchases_processed": 1,
    }


def test_it_counts_only_the_arrays_that_were_sent(fake):
    assert track(fake, {"events": [event()]}).json() == {
        "message": "success",
        "events_processed": 1,
    }


def test_it_answers_a_partial_success_with_the_rejected_indexes(fake):
    body = {"attributes": [user(1), user(2, country="us"), user(3)], "events": [event(time=None)]}

    answer = track(fake, body)

    assert answer.status_code == 201
    assert answer.json()["attributes_processed"] == 2
    assert answer.json()["events_processed"] == 0
    assert answer.json()["errors"] == [
        {
            "type": "The value provided for the 'country' field is not a valid "
            "ISO-3166-1 alpha-2 country code.",
            "input_array": "attributes",
            "index": 1,
        },
        {"type": "'time' is not valid", "input_array": "events", "index": 0},
    ]


def test_it_answers_400_with_the_errors_when_no_object_is_valid(fake):
    answer = track(fake, {"purchases": [purchase(quantity=101)]})

    assert answer.status_code == 400
    assert answer.json() == {
        "message": "Valid data must be provided in the 'attributes', 'events', or "
        "'purchases' fields.",
        "errors": [{"type": "'quantity' is not valid", "input_array": "purchases", "index": 0}],
    }


def test_it_answers_400_to_a_body_without_any_array(fake):
    answer = track(fake, {"partner": "our-bridge"})

    assert answer.status_code == 400
    assert answer.json()["message"].startswith("Valid data must be provided")


def test_it_records_the_partner_and_the_exact_request(fake):
    track(fake, {"partner": "our-bridge", "attributes": [user()]})

    (request,) = fake.received
    assert isinstance(request, ReceivedRequest)
    assert request.body["partner"] == "our-bridge"
    assert (request.method, request.path, request.status) == ("POST", "/users/track", 201)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.raw_body) == request.body
    assert request.answer["attributes_processed"] == 1
    assert abs(request.received_at - time.time()) < 5


def test_it_lists_accepted_objects_across_requests_without_the_rejected_ones(fake):
    track(fake, {"events": [event(1), event(2, name="")]})
    track(fake, {"events": [event(3)]})
    track(fake, {"events": [event(4)]}, headers={})

    assert [e["external_id"] for e in fake.accepted_objects("events")] == ["user-1", "user-3"]


# -- fatal statuses ---------------------------------------------------------------------------


def test_it_rejects_a_missing_bearer_key_with_401(fake):
    answer = track(fake, {"attributes": [user()]}, headers={})

    assert answer.status_code == 401
    assert answer.json()["message"].startswith("Invalid API key")


def test_it_rejects_an_unknown_key_showing_at_most_its_last_4_characters(fake):
    wrong = "wrong-key-abcdefgh-7777"

    answer = track(fake, {"attributes": [user()]}, headers={"Authorization": f"Bearer {wrong}"})

    assert answer.status_code == 401
    assert answer.json() == {"message": "Invalid API key: …7777"}
    assert wrong not in answer.text


def test_it_accepts_any_of_its_keys(fake):
    headers = {"Authorization": "Bearer second-key-5678"}

    assert track(fake, {"attributes": [user()]}, headers=headers).status_code == 201


def test_it_does_not_accept_a_key_in_the_body_as_braze_retired_that(fake):
    answer = track(fake, {"api_key": KEY, "attributes": [user()]}, headers={})

    assert answer.status_code == 401


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_it_answers_415_without_a_json_content_type(fake, content_type):
    answer = post_raw(fake, json.dumps({"attributes": [user()]}), content_type)

    assert answer.status_code == 415


def test_it_accepts_a_json_content_type_with_a_charset(fake):
    data = json.dumps({"attributes": [user()]})

    assert post_raw(fake, data, "application/json; charset=utf-8").status_code == 201


@pytest.mark.parametrize("data", ['{"attributes": [', "[]", "null", '{"attributes": NaN}'])
def test_it_answers_400_to_a_body_that_is_not_a_json_object(fake, data):
    answer = post_raw(fake, data)

    assert answer.status_code == 400
    assert answer.json() == {
        "message": "Error while parsing request body. Please check your syntax."
    }


def test_it_answers_413_to_a_body_over_4_mb_and_keeps_serving(fake):
    answer = post_raw(fake, b" " * (4 * 1024 * 1024 + 1))

    assert answer.status_code == 413
    assert fake.received[-1].status == 413
    assert fake.received[-1].raw_body == b""
    assert track(fake, {"attributes": [user()]}).status_code == 201


def test_it_answers_max_input_length_exceeded_over_75_objects_in_total(fake):
    body = {"attributes": [user(n) for n in range(50)], "events": [event(n) for n in range(26)]}

    answer = track(fake, body)

    assert answer.status_code == 400
    assert answer.json() == {"message": "Max Input Length Exceeded"}
    assert track(fake, {**body, "events": body["events"][:25]}).status_code == 201


def test_it_can_count_the_object_limit_per_array():
    body = {"attributes": [user(n) for n in range(3)], "events": [event(n) for n in range(3)]}
    with FakeBraze(api_keys={KEY}, max_objects=3, limit_mode="per_array") as fake:
        assert track(fake, body).status_code == 201
        assert track(fake, {**body, "events": [event()] * 4}).status_code == 400


@pytest.mark.parametrize(
    "path", ["/users/track/", "/user/track", "/", "/users/export/ids/", "/users/export"]
)
def test_it_answers_404_for_any_other_path_including_a_trailing_slash(fake, path):
    answer = requests.post(
        f"{fake.url}{path}", json={"attributes": [user()]}, headers=AUTH, timeout=5
    )

    assert answer.status_code == 404
    assert "message" in answer.json()


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_it_answers_405_for_other_methods_on_users_track(fake, method):
    answer = requests.request(method, f"{fake.url}/users/track", headers=AUTH, timeout=5)

    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"


# -- connections ------------------------------------------------------------------------------


def test_it_reuses_one_connection_for_two_requests_on_a_session(fake):
    with requests.Session() as session:
        first = track(fake, {"attributes": [user(1)]}, session=session)
        second = track(fake, {"attributes": [user(2)]}, session=session)

    assert (first.status_code, second.status_code) == (201, 201)
    assert fake.received[0].connection_id == fake.received[1].connection_id


def test_it_stops_promptly_even_with_an_idle_keep_alive_connection():
    fake = FakeBraze(api_keys={KEY}).start()
    with requests.Session() as session:
        track(fake, {"attributes": [user()]}, session=session)
        started = time.monotonic()
        fake.stop()

        assert time.monotonic() - started < 1
        with pytest.raises(requests.ConnectionError):
            track(fake, {"attributes": [user()]}, session=session)


# -- faults -----------------------------------------------------------------------------------


def test_a_503_fault_answers_that_status_for_its_number_of_times(fake):
    fake.add_fault(Fault(status=503, times=2))

    statuses = [track(fake, {"attributes": [user()]}).status_code for _ in range(3)]

    assert statuses == [503, 503, 201]
    assert fake.received[0].answer == {"message": "Service Unavailable"}


def test_a_timed_fault_answers_every_request_until_its_time_is_up(fake):
    fake.add_fault(Fault(status=503, for_seconds=0.3))

    during = [track(fake, {"attributes": [user()]}).status_code for _ in range(4)]
    time.sleep(0.35)

    assert during == [503] * 4
    assert track(fake, {"attributes": [user()]}).status_code == 201


def test_faults_are_consumed_in_order_and_apply_before_auth(fake):
    fake.add_fault(Fault(status=502))
    fake.add_fault(Fault(status=504))

    statuses = [track(fake, {"attributes": [user()]}, headers={}).status_code for _ in range(3)]

    assert statuses == [502, 504, 401]


def test_a_classic_429_fault_gives_the_reset_as_epoch_seconds(fake):
    fake.add_fault(Fault(status=429, reset_in=2.0, header_style="classic"))

    answer = track(fake, {"attributes": [user()]})

    assert answer.status_code == 429
    assert answer.headers["X-RateLimit-Limit"] == "3000"
    assert answer.headers["X-RateLimit-Remaining"] == "0"
    assert time.time() + 1 <= int(answer.headers["X-RateLimit-Reset"]) <= time.time() + 3


def test_a_delta_429_fault_gives_the_reset_as_seconds_remaining(fake):
    fake.add_fault(Fault(status=429, reset_in=2.0, header_style="delta"))

    answer = track(fake, {"attributes": [user()]})

    assert answer.status_code == 429
    assert answer.headers["x-ratelimit-reset"] == "2"
    assert answer.headers["x-ratelimit-remaining"] == "0"


def test_a_retry_after_429_fault_sends_only_that_header(fake):
    fake.add_fault(Fault(status=429, reset_in=0.5, header_style="retry_after"))

    answer = track(fake, {"attributes": [user()]})

    assert answer.status_code == 429
    assert answer.headers["X-Ratelimit-Retry-After"] == "0.5"
    assert "X-RateLimit-Reset" not in answer.headers
    assert "X-RateLimit-Limit" not in answer.headers


def test_a_slow_fault_delays_the_normal_answer(fake):
    fake.add_fault(Fault(delay_seconds=0.3))
    started = time.monotonic()

    answer = track(fake, {"attributes": [user()]})

    assert answer.status_code == 201
    assert time.monotonic() - started >= 0.3


def test_a_slow_answer_past_the_client_timeout_was_still_applied(fake):
    fake.add_fault(Fault(delay_seconds=0.3))

    with pytest.raises(requests.ReadTimeout):
        track(fake, {"events": [event()]}, timeout=(1, 0.1))
    time.sleep(0.35)

    assert len(fake.accepted_objects("events")) == 1  # why a timeout is an ambiguous failure


def test_a_dropped_connection_raises_a_connection_error_and_is_recorded(fake):
    fake.add_fault(Fault(drop_connection=True))

    with pytest.raises(requests.ConnectionError):
        track(fake, {"events": [event()]})

    (request,) = fake.received
    assert (request.status, request.answer) == (0, None)
    assert request.body == {"events": [event()]}
    assert fake.accepted_objects("events") == []


def test_a_reject_fault_answers_a_partial_success_for_those_indexes(fake):
    fake.add_fault(Fault(reject_indexes={"attributes": [1], "events": [0]}))
    body = {"attributes": [user(1), user(2)], "events": [event(1), event(2)]}

    answer = track(fake, body)

    assert answer.status_code == 201
    assert answer.json()["attributes_processed"] == 1
    assert answer.json()["events_processed"] == 1
    assert [(e["input_array"], e["index"]) for e in answer.json()["errors"]] == [
        ("attributes", 1),
        ("events", 0),
    ]
    assert answer.json()["errors"][0]["type"] == rules.BLOCKED_EXTERNAL_ID
    assert [a["external_id"] for a in fake.accepted_objects("attributes")] == ["user-1"]


def test_a_202_fault_answers_brazes_maintenance_queued_and_counts_as_accepted(fake):
    fake.add_fault(Fault(status=202))

    answer = track(fake, {"events": [event()]})

    assert (answer.status_code, answer.json()) == (202, {"message": "queued"})
    assert len(fake.accepted_objects("events")) == 1


def test_a_fault_needs_an_effect_and_rejects_contradictions():
    with pytest.raises(ValueError):
        Fault()
    with pytest.raises(ValueError):
        Fault(status=503, drop_connection=True)
    with pytest.raises(ValueError):
        Fault(status=429, header_style="x-retry")


def test_reset_clears_received_requests_and_pending_faults(fake):
    fake.add_fault(Fault(status=503))
    track(fake, {"attributes": [user()]}, headers={})

    fake.reset()

    assert fake.received == []
    assert fake.pending_faults == []


def test_a_rate_limit_answers_429_with_classic_headers_past_its_budget():
    with FakeBraze(api_keys={KEY}, rate_limit=(2, 0.4)) as fake:
        answers = [track(fake, {"attributes": [user()]}) for _ in range(3)]
        time.sleep(0.45)
        after_window = track(fake, {"attributes": [user()]})

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert int(answers[2].headers["X-RateLimit-Reset"]) > 10**9
    assert after_window.status_code == 201


# -- control API ------------------------------------------------------------------------------


def test_the_control_api_lists_requests_without_ever_showing_the_full_key(fake):
    track(fake, {"api_key": KEY, "attributes": [user()]})
    requests.post(f"{fake.url}/users/track?api_key={KEY}", json={}, headers=AUTH, timeout=5)

    listing = requests.get(f"{fake.url}/_fake/received", timeout=5)

    assert listing.status_code == 200
    assert KEY not in listing.text
    first = listing.json()[0]
    assert first["headers"]["authorization"] == {"scheme": "Bearer", "key_last4": "9f3c"}
    assert first["body"]["api_key"] == {"key_last4": "9f3c"}
    assert first["status"] == 201
    assert len(listing.json()) == 2  # control requests themselves are not recorded


def test_the_control_api_clears_received_requests(fake):
    track(fake, {"attributes": [user()]})

    answer = requests.delete(f"{fake.url}/_fake/received", timeout=5)

    assert answer.json() == {"message": "cleared", "deleted": 1}
    assert fake.received == []


def test_the_control_api_scripts_and_clears_faults(fake):
    faults = [{"status": 503, "times": 1}, {"status": 429, "header_style": "retry_after"}]

    added = requests.post(f"{fake.url}/_fake/faults", json=faults, timeout=5)
    first = track(fake, {"attributes": [user()]})
    pending = requests.get(f"{fake.url}/_fake/faults", timeout=5).json()
    requests.delete(f"{fake.url}/_fake/faults", timeout=5)

    assert added.status_code == 201
    assert first.status_code == 503
    assert [f["status"] for f in pending] == [429]
    assert track(fake, {"attributes": [user()]}).status_code == 201


@pytest.mark.parametrize("fault", [{"status": 503, "oops": 1}, {"times": 2}, "not-a-fault"])
def test_the_control_api_refuses_an_invalid_fault_and_adds_nothing(fake, fault):
    answer = requests.post(f"{fake.url}/_fake/faults", json=[fault], timeout=5)

    assert answer.status_code == 400
    assert fake.pending_faults == []


# -- the standalone entry point ---------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_module_runs_standalone_and_stops_cleanly_on_a_signal(signum):
    command = [sys.executable, "-m", "mappings.fake_braze", "--port", "0", "--api-key", KEY]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline().strip()
        match = re.fullmatch(r"fake Braze listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        answer = requests.post(
            f"{match[1]}/users/track", json={"attributes": [user()]}, headers=AUTH, timeout=5
        )
        process.send_signal(signum)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        process.communicate()

    assert answer.status_code == 201
