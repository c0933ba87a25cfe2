"""The delivery hint coalescer: a burst of ingests publishes one drain task at once and one trailing
task per environment, never loses the last hint, and never lets a broker error reach the caller.

Units drive the coalescer with a fake clock and no background thread (``flush_due`` stands in
for it), so they need no sleeps; the threaded tests use the real clock and thread, and the last
test goes through the API to a real Redis broker.
"""

import base64
import itertools
import json
import logging
import threading
import time

import pytest
import redis

from integration_admin.celery import app as celery_app
from mappings.delivery import worker
from mappings.delivery.hints import HintCoalescer
from mappings.models import Delivery
from tests.conftest import conversation_for

INTERVAL = 0.0625  # 1/16 s: exact in binary, so the fake clock's sums are exact


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Published(list):
    """A publish function that records what it was called with."""

    def __call__(self, key) -> None:
        self.append(key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def coalescer(clock, published) -> HintCoalescer:
    return HintCoalescer(published, lambda: INTERVAL, clock=clock, background=False)


def test_a_burst_publishes_once_at_once_and_once_after_the_interval(coalescer, clock, published):
    for _ in range(100):
        coalescer.hint(7)
        clock.advance(INTERVAL / 1000)

    assert published == [7]  # the leading publish went out with the first hint
    assert coalescer.flush_due() == pytest.approx(INTERVAL - 100 * INTERVAL / 1000)
    assert published == [7]  # nothing before the interval has passed

    clock.advance(INTERVAL)
    assert coalescer.flush_due() is None
    assert published == [7, 7]

    clock.advance(10 * INTERVAL)
    assert coalescer.flush_due() is None
    assert published == [7, 7]  # one trailing publish, not one per suppressed hint


def test_a_single_hint_gets_no_trailing_publish(coalescer, clock, published):
    coalescer.hint(7)
    clock.advance(10 * INTERVAL)

    assert coalescer.flush_due() is None
    assert published == [7]


def test_environments_are_coalesced_independently(coalescer, clock, published):
    for _ in range(10):
        coalescer.hint(1)
        coalescer.hint(2)
    clock.advance(INTERVAL / 2)
    coalescer.hint(3)

    assert published == [1, 2, 3]

    clock.advance(INTERVAL / 2)
    coalescer.flush_due()
    assert published == [1, 2, 3, 1, 2]  # 3 had a single hint: nothing trailing for it


def test_a_hint_after_the_interval_publishes_at_once(coalescer, clock, published):
    coalescer.hint(7)
    clock.advance(INTERVAL)
    coalescer.hint(7)

    assert published == [7, 7]
    assert coalescer.flush_due() is None


def test_a_leading_publish_replaces_a_trailing_one_not_yet_sent(coalescer, clock, published):
    coalescer.hint(7)
    coalescer.hint(7)  # remembered for a trailing publish
    clock.advance(2 * INTERVAL)  # ... that the thread has not sent yet
    coalescer.hint(7)  # publishes at once, after both earlier hints

    assert published == [7, 7]
    assert coalescer.flush_due() is None
    assert published == [7, 7]


def test_a_steady_stream_publishes_once_per_interval(clock):
    times = []
    coalescer = HintCoalescer(
        lambda key: times.append(clock()), lambda: INTERVAL, clock=clock, background=False
    )
    for _ in range(800):  # a hint every eighth of the interval, flushed as soon as due
        coalescer.hint(7)
        coalescer.flush_due()
        clock.advance(INTERVAL / 8)
    coalescer.flush_due()  # the clock is now an interval past the last publish

    gaps = {later - earlier for earlier, later in itertools.pairwise(times)}
    assert gaps == {INTERVAL}
    assert len(times) == 101  # one per interval of the 100 the stream lasted, plus the trailing


def test_a_hint_during_a_trailing_publish_gets_its_own_trailing_publish(clock):
    published = []

    def publish(key) -> None:
        published.append(key)
        if len(published) == 2:  # while the trailing publish is being sent
            coalescer.hint(key)

    coalescer = HintCoalescer(publish, lambda: INTERVAL, clock=clock, background=False)
    coalescer.hint(7)
    coalescer.hint(7)
    clock.advance(INTERVAL)
    coalescer.flush_due()
    assert published == [7, 7]

    clock.advance(INTERVAL)
    coalescer.flush_due()
    assert published == [7, 7, 7]


def test_interval_zero_publishes_every_hint(clock, published):
    coalescer = HintCoalescer(published, lambda: 0.0, clock=clock, background=False)
    for _ in range(5):
        coalescer.hint(7)

    assert published == [7] * 5
    assert coalescer.flush_due() is None


def test_the_interval_is_read_on_every_hint(clock, published):
    interval = [INTERVAL]
    coalescer = HintCoalescer(published, lambda: interval[0], clock=clock, background=False)
    coalescer.hint(7)
    coalescer.hint(7)
    interval[0] = 0.0
    coalescer.hint(7)

    assert published == [7, 7]


def test_a_failing_publish_is_logged_and_later_hints_still_work(clock, caplog):
    published = []

    def publish(key) -> None:
        if not published:
            published.append("failed")
            raise ConnectionError("broker down")
        published.append(key)

    coalescer = HintCoalescer(publish, lambda: INTERVAL, clock=clock, background=False)
    with caplog.at_level(logging.WARNING, logger="mappings.delivery.hints"):
        coalescer.hint(7)  # raises inside: must not reach the caller
        coalescer.hint(7)
    clock.advance(INTERVAL)
    coalescer.flush_due()

    assert published == ["failed", 7]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "7" in record.getMessage() and "ConnectionError" in record.getMessage()


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_the_background_thread_sends_the_trailing_publish():
    published = Published()
    coalescer = HintCoalescer(published, lambda: INTERVAL)
    started = time.monotonic()
    for _ in range(50):
        coalescer.hint(7)

    assert published == [7]
    _wait_for(lambda: len(published) == 2)
    assert time.monotonic() - started >= INTERVAL
    time.sleep(3 * INTERVAL)
    assert published == [7, 7]


def test_a_failing_trailing_publish_does_not_stop_the_thread(caplog):
    published = []

    def publish(key) -> None:
        published.append(key)
        if len(published) == 2:
            raise ConnectionError("broker down")

    coalescer = HintCoalescer(publish, lambda: INTERVAL)
    with caplog.at_level(logging.WARNING, logger="mappings.delivery.hints"):
        coalescer.hint(7)
        coalescer.hint(7)
        _wait_for(lambda: len(published) == 2)  # the trailing one, which raised
        coalescer.hint(7)
        _wait_for(lambda: len(published) == 3)  # the thread lived on to send this one's

    assert len(caplog.records) == 1


def test_hints_from_many_threads_always_end_with_a_publish_after_the_last_hint():
    """Every hint is followed by a publish that starts after it, whatever the interleaving."""
    lock = threading.Lock()
    publishes: dict[int, list[float]] = {1: [], 2: []}
    last_hint: dict[int, float] = {1: 0.0, 2: 0.0}

    def publish(key: int) -> None:
        with lock:
            publishes[key].append(time.monotonic())

    coalescer = HintCoalescer(publish, lambda: INTERVAL / 5)
    started = time.monotonic()

    def send(thread_number: int) -> None:
        for n in range(400):
            key = 1 + (thread_number + n) % 2
            stamp = time.monotonic()
            with lock:
                last_hint[key] = max(last_hint[key], stamp)
            coalescer.hint(key)
            if n % 50 == 0:
                time.sleep(INTERVAL / 10)  # let some hints fall after a trailing publish

    threads = [threading.Thread(target=send, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for key in (1, 2):
        _wait_for(lambda key=key: publishes[key] and publishes[key][-1] >= last_hint[key])
    elapsed = time.monotonic() - started
    for key in (1, 2):
        # Publishes of a key are at least an interval apart: far fewer than its 1,600 hints.
        assert 2 <= len(publishes[key]) <= elapsed / (INTERVAL / 5) + 1


# Through the real path: async ingests over the API, hints on commit, Celery publishing to Redis.
# No worker runs: the test counts the task messages that land in the broker's queue.

REDIS_URL = "redis://127.0.0.1:6379/8"
HINT_INTERVAL = 1.0  # long enough that the burst below fits inside one interval


def _use_broker(url: str | None) -> None:
    """Point the Celery app at ``url``. Its conf was copied from the Django settings once, and
    the connection and producer pools it built are cached, so both are reset (the pools are
    rebuilt from the conf on next use, as Celery itself does after a fork)."""
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def redis_broker(settings, monkeypatch):
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    client.flushdb()  # our own numbered database only
    settings.CELERY_BROKER_URL = REDIS_URL  # after the autouse fast_delivery fixture emptied it
    # Celery prefers these environment variables to its conf: never publish to a shell's broker.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    settings.DELIVERY_HINT_INTERVAL_SECONDS = HINT_INTERVAL
    # A coalescer of this test's own: no state from an earlier test, none left to a later one.
    monkeypatch.setattr(worker, "hints", HintCoalescer(worker._enqueue, worker.hints._interval))
    previous_url = celery_app.conf.broker_url
    _use_broker(REDIS_URL)
    yield client
    _use_broker(previous_url)
    client.flushdb()
    client.close()


def _queued_environments(client) -> list[int]:
    """The environment of each deliver_environment task message waiting in the queue."""
    environments = []
    for raw in client.lrange("celery", 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == "mappings.tasks.deliver_environment"
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        environments.append(args[0])
    return environments


@pytest.mark.django_db(transaction=True)  # real commits, so the on_commit hints really fire
def test_a_burst_of_async_ingests_publishes_one_task_at_once_and_one_trailing(
    redis_broker, ingest, braze, environment
):
    ingests = 30
    started = time.monotonic()
    first = ingest.post("support-bot", conversation_for("u-0"), mode="async")
    assert first.status_code == 202
    assert redis_broker.llen("celery") == 1  # the leading hint was published with the request

    for n in range(1, ingests):
        assert (
            ingest.post("support-bot", conversation_for(f"u-{n}"), mode="async").status_code == 202
        )
    burst = time.monotonic() - started
    assert burst < HINT_INTERVAL, "the ingests were too slow for this test's interval"
    assert redis_broker.llen("celery") == 1  # the other 29 were coalesced

    _wait_for(lambda: redis_broker.llen("celery") == 2, timeout=HINT_INTERVAL + 5)
    assert time.monotonic() - started >= HINT_INTERVAL  # the trailing one waited out the interval
    time.sleep(HINT_INTERVAL / 2)
    assert _queued_environments(redis_broker) == [environment.pk, environment.pk]
    assert Delivery.objects.filter(status="pending").count() == ingests  # left for the worker
