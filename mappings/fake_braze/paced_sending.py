"""Sending an answer's bytes on a schedule: at once, after a wait, or trickled in chunks.

Every wait is on the server's ``stopping`` event rather than ``time.sleep``, so
``FakeBraze.stop()`` cuts a slow or trickled answer short instead of leaving a handler thread
asleep for as long as a test scripted.
"""

from __future__ import annotations

import select
import socket
import threading
import time

from .exchange import CLIENT_GONE, DROPPED, SENT, SERVER_STOPPED, AnswerDelivery, Pace


def send_paced(
    connection: socket.socket, data: bytes, pace: Pace, stopping: threading.Event
) -> AnswerDelivery:
    """Send ``data`` after ``pace.delay_seconds``, in chunks ``pace`` spaces apart if it trickles.

    Each chunk goes out with its own ``sendall`` (the handler disables Nagle), so a client
    sees every chunk arrive on its own and a read timeout that restarts per byte never fires.
    """
    sent = 0
    if pace.delay_seconds and stopping.wait(pace.delay_seconds):
        return AnswerDelivery(SERVER_STOPPED, time.time(), sent)
    trickles = pace.trickle_interval_seconds > 0
    step = pace.trickle_chunk_bytes if trickles else max(len(data), 1)
    for offset in range(0, len(data), step):
        if offset and stopping.wait(pace.trickle_interval_seconds):
            return AnswerDelivery(SERVER_STOPPED, time.time(), sent)
        # Checked first because a send to a closed peer can still succeed once (the kernel
        # takes the bytes; only the peer's reset fails the next one), which would misreport it.
        if peer_has_closed(connection):
            return AnswerDelivery(outcome_when_cut(stopping), time.time(), sent)
        try:
            connection.sendall(data[offset : offset + step])
        except OSError:  # BrokenPipeError, ConnectionResetError: the client hung up mid-answer
            return AnswerDelivery(outcome_when_cut(stopping), time.time(), sent)
        sent += len(data[offset : offset + step])
    return AnswerDelivery(SENT, time.time(), sent)


def drop_after_delay(pace: Pace, stopping: threading.Event) -> AnswerDelivery:
    """A dropped connection, closed after ``pace.delay_seconds`` (a hang, then a reset)."""
    if pace.delay_seconds and stopping.wait(pace.delay_seconds):
        return AnswerDelivery(SERVER_STOPPED, time.time(), 0)
    return AnswerDelivery(DROPPED, time.time(), 0)


def outcome_when_cut(stopping: threading.Event) -> str:
    """stop() shuts every connection down, which looks like a hang-up from this side."""
    return SERVER_STOPPED if stopping.is_set() else CLIENT_GONE


def peer_has_closed(connection: socket.socket) -> bool:
    """Whether the client closed or reset its end: readable, yet nothing to read.

    A client that only half-closes counts as gone too, as nginx (which fronts many APIs)
    treats it while an answer is pending. Pipelined bytes of a next request read as "still
    there". ``poll`` rather than ``select``: a benchmark's connections can pass descriptor 1024.
    """
    poller = select.poll()
    poller.register(connection, select.POLLIN)
    if not poller.poll(0):
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
