"""The control API under ``/_fake/``, for a demo or a test in another process.

``GET|DELETE /_fake/received``, ``GET|POST|DELETE /_fake/faults``. These requests are not
recorded and need no API key: the server binds to loopback.
"""

from __future__ import annotations

from typing import Any

from .exchange import Answer, IncomingRequest, message_answer
from .faults import Fault, FaultQueue
from .received_requests import ReceivedRequests

CONTROL_PREFIX = "/_fake/"


def is_control_request(incoming: IncomingRequest) -> bool:
    return incoming.path.startswith(CONTROL_PREFIX)


def control_answer(
    incoming: IncomingRequest, received: ReceivedRequests, faults: FaultQueue
) -> Answer:
    if incoming.framing_error:
        return message_answer(*incoming.framing_error)
    route = (incoming.method, incoming.path)
    if route == ("GET", "/_fake/received"):
        return Answer(200, [request.public_dict() for request in received.all()])
    if route == ("DELETE", "/_fake/received"):
        return Answer(200, {"message": "cleared", "deleted": received.clear()})
    if route == ("GET", "/_fake/faults"):
        return Answer(200, [fault.to_dict() for fault in faults.pending()])
    if route == ("POST", "/_fake/faults"):
        return add_faults(incoming.body, faults)
    if route == ("DELETE", "/_fake/faults"):
        faults.clear()
        return message_answer(200, "cleared")
    return message_answer(404, "Not Found")


def add_faults(body: Any, faults: FaultQueue) -> Answer:
    """Queue one fault (a JSON object) or several (a list); none if any is invalid."""
    items = body if isinstance(body, list) else [body]
    if not all(isinstance(item, dict) for item in items):
        return message_answer(400, "Invalid fault: send a JSON object or a list of objects")
    try:
        new_faults = [Fault.from_dict(item) for item in items]
    except (TypeError, ValueError) as error:
        return message_answer(400, f"Invalid fault: {error}")
    for fault in new_faults:
        faults.add(fault)
    return Answer(201, {"message": "added", "pending": len(faults.pending())})
