"""Coalesce "this environment has new work" hints so a burst of ingests publishes few messages.

One Celery task drains an environment until nothing is due, so a hint per ingest costs the web
process a broker round trip each time and only queues redundant tasks. Per key (an environment):
- leading edge: a hint publishes at once when the last publish is at least ``interval`` old;
- otherwise the hint is remembered and one trailing publish goes out ``interval`` after the last
  one, from a daemon thread, so work committed just after a drain task finished never waits for
  the periodic sweep.
Publishes of one key are therefore at least ``interval`` apart, and every hint is followed by a
publish that starts after it. A failing publish is logged and dropped: the sweep re-enqueues
whatever it leaves behind.

Kept apart from worker.py because it is plain concurrency with no Django in it: the clock and the
publish function are injected, so its tests need neither sleeps nor a broker.
"""

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Key = TypeVar("Key", bound=Hashable)


class HintCoalescer(Generic[Key]):
    """Throttle ``publish(key)`` to one call per ``interval()`` seconds per key, never dropping the
    last hint. ``interval()`` is read on every hint (a setting may change at run time, and 0 turns
    coalescing off). With ``background=False`` no thread is started: the caller runs
    ``flush_due()`` itself (tests do)."""

    def __init__(
        self,
        publish: Callable[[Key], None],
        interval: Callable[[], float],
        *,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self._publish = publish
        self._interval = interval
        self._clock = clock
        self._background = background
        self._condition = threading.Condition()
        self._last_publish: dict[Key, float] = {}
        self._due: dict[Key, float] = {}  # suppressed hints: key -> when to publish
        self._thread: threading.Thread | None = None

    def hint(self, key: Key) -> None:
        """Publish now (leading edge), or remember the hint for one trailing publish."""
        interval = self._interval()
        if interval <= 0:
            self._publish_safely(key)
            return
        with self._condition:
            now = self._clock()
            last = self._last_publish.get(key)
            leading = last is None or now - last >= interval
            if leading:
                self._last_publish[key] = now
                self._due.pop(key, None)  # this publish comes after every remembered hint
            else:
                self._ensure_thread()
                if key not in self._due:
                    self._due[key] = last + interval
                    self._condition.notify()
        if leading:
            # Outside the lock: a publish is a broker round trip, and other threads' hints must
            # not wait for it.
            self._publish_safely(key)

    def flush_due(self) -> float | None:
        """Publish every remembered hint whose time has come; returns the seconds until the next
        one is due, or None when nothing is remembered."""
        with self._condition:
            keys = self._take_due()
            wait = self._seconds_to_next_due()
        self._publish_all(keys)
        return wait

    def _take_due(self) -> list[Key]:
        now = self._clock()
        keys = [key for key, due_at in self._due.items() if due_at <= now]
        for key in keys:
            del self._due[key]
            # A hint arriving from now on is after the take, so it is remembered again and
            # gets its own trailing publish: none is lost between the take and the publish.
            self._last_publish[key] = now
        return keys

    def _seconds_to_next_due(self) -> float | None:
        if not self._due:
            return None
        return max(0.0, min(self._due.values()) - self._clock())

    def _publish_all(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._publish_safely(key)

    def _publish_safely(self, key: Key) -> None:
        try:
            self._publish(key)
        except Exception as error:  # a lost hint is covered by the sweep; never fail the caller
            logger.warning(
                "Could not publish the delivery hint for %s (%s); the sweep covers it",
                key,
                type(error).__name__,
            )

    def _ensure_thread(self) -> None:
        # Started on first need, never at import: gunicorn forks its workers after importing,
        # and a thread does not survive a fork (is_alive() is then False, so it is restarted).
        if not self._background or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._run, name="delivery-hints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._condition:
                # Checked and waited on under the same lock as hint() adds to, so no wake-up is
                # missed; None waits until a hint arrives.
                while (wait := self._seconds_to_next_due()) != 0.0:
                    self._condition.wait(timeout=wait)
                keys = self._take_due()
            self._publish_all(keys)
