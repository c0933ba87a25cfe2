"""Run the same work in several threads released at one instant, each on its own database
connection, as several processes' periodic jobs would run it."""

import threading
from collections.abc import Callable, Iterable

from django.db import connection


def at_once(work: Callable[[], Iterable], threads: int, timeout: float = 20.0) -> list:
    """Everything the threads' ``work`` returned, joined; raises the first error one of them
    met (a crash would do nothing and pass for a claim that held)."""
    start, found, errors = threading.Barrier(threads), [], []

    def one() -> None:
        start.wait()
        try:
            found.extend(work())
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    running = [threading.Thread(target=one) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(timeout=timeout)
    if errors:
        raise errors[0]
    return found
