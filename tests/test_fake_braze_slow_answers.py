"""The fake Braze's slow and trickled answers over real HTTP: timing, records, concurrency,
stopping mid-answer and clients that hang up."""

import itertools
import json
import math
import re
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mappings.fake_braze import FakeBraze, Fault

KEY = "test-rest-key-0000-9f3c"
AUTH = {"Authorization": f"Bearer {KEY}"}
EVENT = {"external_id": "user-1", "name": "chat_started", "time": "2026-11-20T10:15:00Z"}


@pytest.fixture(scope="module")
def server():
    with FakeBraze(api_keys={KEY}) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    return server


def track(fake, body=None, timeout=5):
    body = {"events": [EVENT]} if body is None else body
    return requests.post(f"{fake.url}/users/track", json=body, headers=AUTH, timeout=timeout)


def timed_track(fake, timeout=5):
    started = time.monotonic()
    answer = track(fake, timeout=timeout)
    return answer, time.monotonic() - started


def wait_until(condition, seconds=3.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def finished(fake):
    return bool(fake.received) and all(r.answer_outcome != "sending" for r in fake.received)


def open_raw_request(fake, body=None):
    """A track request on a bare socket, so a test sees each chunk of the answer arrive."""
    payload = json.dumps({"events": [EVENT]} if body is None else body).encode()
    head = (
        f"POST /users/track HTTP/1.1\r\nHost: {fake.host}\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    connection = socket.create_connection((fake.host, fake.port), timeout=5)
    connection.sendall(head.encode() + payload)
    return connection


def read_whole_answer(connection):
    """The answer's bytes and the monotonic time each recv returned some of them."""
    data, arrivals = b"", []
    while not is_complete(data):
        chunk = connection.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
        arrivals.append(time.monotonic())
    return data, arrivals


def is_complete(data):
    head, found, body = data.partition(b"\r\n\r\n")
    return bool(found) and len(body) >= int(re.search(rb"(?i)content-length: (\d+)", head)[1])


# -- slow answers -----------------------------------------------------------------------------


def test_a_slow_answer_is_recorded_on_arrival_and_sent_after_the_delay(fake):
    fake.add_fault(Fault(delay_seconds=0.4))

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(timed_track, fake)
        wait_until(lambda: fake.received)
        (during,) = fake.received
        answer, seconds = pending.result()

    assert (during.status, during.answer_outcome, during.answer_finished_at) == (
        201,
        "sending",
        None,
    )
    assert len(fake.accepted_objects("events")) == 1  # applied before the answer went out
    assert answer.status_code == 201
    assert seconds >= 0.4
    wait_until(lambda: finished(fake))
    (request,) = fake.received
    assert request.answer_outcome == "sent"
    assert request.answer_finished_at - request.received_at >= 0.4
    assert request.answer_bytes_sent > len(answer.content)  # status line and headers too


def test_a_slow_answer_the_client_gave_up_on_was_applied_and_says_the_client_went_away(fake):
    fake.add_fault(Fault(delay_seconds=0.3))

    with pytest.raises(requests.ReadTimeout):
        track(fake, timeout=(1, 0.1))
    wait_until(lambda: finished(fake))

    (request,) = fake.received
    assert (request.status, request.answer_outcome, request.answer_bytes_sent) == (
        201,
        "client_gone",
        0,
    )
    assert request.answer_finished_at - request.received_at >= 0.3
    assert len(fake.accepted_objects("events")) == 1


def test_a_retry_after_a_timeout_leaves_one_applied_copy_per_record(fake):
    # The client gives up at 0.1 s; the answer goes at 1 s, by when even a loaded machine has
    # closed the client's socket, so the fake sees it gone.
    fake.add_fault(Fault(delay_seconds=1.0))

    with pytest.raises(requests.ReadTimeout):
        track(fake, timeout=(1, 0.1))
    assert track(fake).status_code == 201
    wait_until(lambda: finished(fake))

    assert [r.answer_outcome for r in fake.received] == ["client_gone", "sent"]
    assert len(fake.accepted_objects("events")) == len(fake.received) == 2


def test_the_control_api_scripts_a_slow_status_answer_for_its_number_of_times(fake):
    fault = {"status": 503, "delay_seconds": 0.2, "times": 2}

    added = requests.post(f"{fake.url}/_fake/faults", json=fault, timeout=5)
    answers = [timed_track(fake) for _ in range(3)]

    assert added.status_code == 201
    assert [answer.status_code for answer, _ in answers] == [503, 503, 201]
    assert all(seconds >= 0.2 for _, seconds in answers[:2])
    assert answers[2][1] < 0.2


def test_a_dropped_connection_after_a_delay_hangs_then_resets(fake):
    fake.add_fault(Fault(drop_connection=True, delay_seconds=0.2))
    started = time.monotonic()

    with pytest.raises(requests.ConnectionError):
        track(fake)

    assert time.monotonic() - started >= 0.2
    wait_until(lambda: finished(fake))
    (request,) = fake.received
    assert (request.status, request.answer_outcome, request.answer_bytes_sent) == (0, "dropped", 0)


# -- trickled answers -------------------------------------------------------------------------


def test_a_trickle_sends_the_usual_answer_in_chunks_spaced_by_its_interval(fake):
    fake.add_fault(Fault(trickle_interval_seconds=0.1, trickle_chunk_bytes=40))
    connection = open_raw_request(fake)

    with connection:
        data, arrivals = read_whole_answer(connection)

    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 Created\r\n")
    assert json.loads(body) == {"message": "success", "events_processed": 1}
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) >= 3
    assert min(gaps) >= 0.08  # chunks never come closer; a late one only widens a gap
    assert arrivals[-1] - arrivals[0] >= (math.ceil(len(data) / 40) - 1) * 0.1 - 0.02
    wait_until(lambda: finished(fake))
    assert fake.received[0].answer_bytes_sent == len(data)


def test_a_client_whose_read_timeout_restarts_per_byte_waits_for_the_whole_trickle(fake):
    """python-requests' read timeout bounds each wait for a byte, not the whole answer."""
    fake.add_fault(Fault(trickle_interval_seconds=0.1, trickle_chunk_bytes=20))

    answer, seconds = timed_track(fake, timeout=(1, 0.3))

    wait_until(lambda: finished(fake))
    (request,) = fake.received
    whole_trickle = (math.ceil(request.answer_bytes_sent / 20) - 1) * 0.1
    assert answer.status_code == 201
    assert whole_trickle >= 0.6  # about 10 chunks, so well past the 0.3 s read timeout
    assert whole_trickle - 0.02 <= seconds < whole_trickle + 0.5
    assert request.answer_outcome == "sent"


def test_the_control_api_scripts_a_trickled_status_answer(fake):
    fault = {"status": 503, "trickle_interval_seconds": 0.05, "trickle_chunk_bytes": 30}

    requests.post(f"{fake.url}/_fake/faults", json=[fault], timeout=5)
    (slow, slow_seconds), (usual, _) = timed_track(fake), timed_track(fake)

    assert (slow.status_code, slow.json()) == (503, {"message": "Service Unavailable"})
    assert slow_seconds >= 0.2
    assert usual.status_code == 201


@pytest.mark.parametrize(
    "wrong",
    [
        {"trickle_interval_seconds": -0.1},
        {"trickle_interval_seconds": float("nan")},
        {"trickle_interval_seconds": "slow"},
        {"trickle_interval_seconds": 0.1, "trickle_chunk_bytes": 0},
        {"trickle_interval_seconds": 0.1, "drop_connection": True},
    ],
)
def test_a_wrong_trickle_is_refused_by_both_apis(fake, wrong):
    with pytest.raises(ValueError):
        Fault(**wrong)
    # json.dumps, not requests' json=, which refuses NaN (Python's json.loads takes it).
    refused = requests.post(f"{fake.url}/_fake/faults", data=json.dumps(wrong), timeout=5)

    assert refused.status_code == 400
    assert fake.pending_faults == []


# -- other connections, stopping and hanging up -----------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [Fault(delay_seconds=1.0), Fault(trickle_interval_seconds=0.1, trickle_chunk_bytes=20)],
    ids=["slow", "trickled"],
)
def test_a_slow_answer_on_one_connection_does_not_hold_up_another(fake, fault):
    fake.add_fault(fault)

    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(timed_track, fake)
        wait_until(lambda: fake.received)  # the slow request took the fault first
        other, other_seconds = timed_track(fake)
        still_sending = fake.received[0].answer_outcome == "sending"
        held_answer, held_seconds = held.result()

    assert (other.status_code, held_answer.status_code) == (201, 201)
    assert other_seconds < 0.5
    assert still_sending
    assert held_seconds >= 0.7


@pytest.mark.parametrize(
    "fault",
    [Fault(delay_seconds=60), Fault(trickle_interval_seconds=30, trickle_chunk_bytes=10)],
    ids=["slow", "trickled"],
)
def test_stop_cuts_a_long_answer_short_and_leaves_no_thread_behind(fault):
    before = set(threading.enumerate())
    fake = FakeBraze(api_keys={KEY}).start()
    fake.add_fault(fault)

    with ThreadPoolExecutor(1) as pool:
        client = pool.submit(track, fake, timeout=120)
        wait_until(lambda: fake.received)
        time.sleep(0.1)  # into the wait or past the first chunk
        started = time.monotonic()
        fake.stop()
        stop_seconds = time.monotonic() - started
        with pytest.raises(requests.RequestException):
            client.result(timeout=5)

    assert stop_seconds < 1
    (request,) = fake.received
    assert request.answer_outcome == "server_stopped"
    assert request.answer_finished_at - request.received_at < 1
    left = [t.name for t in set(threading.enumerate()) - before if "process_request" in t.name]
    assert left == []


@pytest.mark.parametrize("hang_up", ["close", "reset"])
def test_a_client_hanging_up_mid_trickle_is_noted_and_the_server_keeps_serving(
    fake, hang_up, capfd
):
    fake.add_fault(Fault(trickle_interval_seconds=0.1, trickle_chunk_bytes=5))
    connection = open_raw_request(fake)

    first = connection.recv(5)
    if hang_up == "reset":  # linger 0: close sends RST instead of FIN
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()
    wait_until(lambda: finished(fake))

    (request,) = fake.received
    assert first == b"HTTP/"
    assert request.answer_outcome == "client_gone"
    assert 5 <= request.answer_bytes_sent < 50
    assert track(fake).status_code == 201
    assert "Traceback" not in capfd.readouterr().err


def test_the_control_api_lists_when_each_answer_finished_and_how(fake):
    track(fake)
    wait_until(lambda: finished(fake))

    (listed,) = requests.get(f"{fake.url}/_fake/received", timeout=5).json()

    assert listed["answer_outcome"] == "sent"
    assert listed["received_at"] <= listed["answer_finished_at"] <= time.time()
    assert listed["answer_bytes_sent"] > 0
    assert {"method", "path", "status", "answer", "received_at", "connection_id"} <= set(listed)
