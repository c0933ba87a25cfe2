"""A real Redis connection that notes what it sends: a way to count round trips."""

from typing import ClassVar

import redis


class RecordingConnection(redis.Connection):
    """A real connection that also notes each batch of commands it writes to the socket."""

    sent: ClassVar[list[tuple[int, bytes]]] = []

    def send_packed_command(self, command, check_health=True):
        payload = command if isinstance(command, bytes) else b"".join(command)
        RecordingConnection.sent.append((id(self), payload))
        super().send_packed_command(command, check_health)
