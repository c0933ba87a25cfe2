"""Braze's rate limits (``/users/track``, ``/users/export/ids``): a fixed-window limiter and its
headers."""

from __future__ import annotations

import math
import threading
import time

BRAZE_TRACK_LIMIT = 3000  # requests per 3 s: what X-RateLimit-Limit says when nothing is set
# Per workspace, for workspaces onboarded on or after 2024-08-22 (docs/braze.md).
BRAZE_EXPORT_LIMIT = (250, 60.0)
RATE_LIMITED = "API rate limit exceeded"


def rate_limit_headers(limit: int, remaining: int, reset: str) -> dict[str, str]:
    """Braze's classic headers; ``reset`` is an epoch second, or a delay in the delta style."""
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": reset,
    }


class FixedWindowLimiter:
    """``limit`` requests per ``per_seconds`` window, the window starting at its first request.

    A fixed window (not sliding) because Braze's classic ``X-RateLimit-Reset`` names one
    instant at which the whole budget comes back.
    """

    def __init__(self, limit: int, per_seconds: float) -> None:
        self.limit, self.per_seconds = limit, per_seconds
        self._lock = threading.Lock()
        self._window_start = -math.inf
        self._count = 0

    def take(self) -> tuple[bool, dict[str, str]]:
        """Whether one more request is allowed now, and the headers to answer it with."""
        now = time.time()
        with self._lock:
            if now >= self._window_start + self.per_seconds:
                self._window_start, self._count = now, 0
            allowed = self._count < self.limit
            if allowed:
                self._count += 1
            reset = str(math.ceil(self._window_start + self.per_seconds))
            headers = rate_limit_headers(self.limit, self.limit - self._count, reset)
        return allowed, headers

    def reset(self) -> None:
        """Start afresh: the next request opens a new window with the whole budget."""
        with self._lock:
            self._window_start, self._count = -math.inf, 0
