"""When to try a delivery again: Braze's rate-limit headers, backoff with jitter, and giving up.

Pure functions over numbers and header dicts (no ORM, no clock of their own), so the policy is
tested with plain values and a fast-forwarded clock.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass

# X-RateLimit-Reset is epoch seconds on classic contracts and seconds remaining on newer ones
# (docs/braze.md). No reset is due before 2001 (epoch 10^9), so a smaller value is a delta.
_EPOCH_THRESHOLD = 1_000_000_000


@dataclass(frozen=True)
class Backoff:
    base_seconds: float
    max_seconds: float

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Exponential in the number of failures so far, with "equal jitter" (half fixed).

        Half fixed keeps a floor under the wait; the random half spreads a burst of deliveries
        that failed together so they do not come back together.
        """
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(0, failures - 1))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def rate_limit_wait(headers: Mapping[str, str], now_epoch: float) -> float | None:
    """Seconds Braze asks us to wait after a 429, or None when its answer says nothing.

    Header names are compared in lower case (they may arrive either way).
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    retry_after = _number(lowered.get("x-ratelimit-retry-after") or lowered.get("retry-after"))
    if retry_after is not None:
        return max(0.0, retry_after)
    reset = _number(lowered.get("x-ratelimit-reset"))
    if reset is None:
        return None
    if reset >= _EPOCH_THRESHOLD:
        return max(0.0, reset - now_epoch)
    return max(0.0, reset)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def gives_up(
    attempts: int, age_seconds: float, *, max_attempts: int, window_seconds: float
) -> bool:
    """Whether a transient failure ends the delivery as dead (retried long enough)."""
    return attempts >= max_attempts or age_seconds >= window_seconds
