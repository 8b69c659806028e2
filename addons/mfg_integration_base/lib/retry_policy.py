"""Exponential backoff with jitter for transient failures. Pure Python, no ORM."""

import random


def retry_delay(attempt, first_delay, factor, jitter, max_delay, rng=random):
    """Seconds to wait before attempt ``attempt + 1`` after ``attempt`` failed (attempt >= 1).

    delay = first_delay * factor ** (attempt - 1), capped at max_delay, then spread by
    +/- ``jitter`` (a fraction, 0.2 = 20 %) so that messages that failed together do not
    all come back at the same second.
    """
    attempt = max(int(attempt), 1)
    delay = float(first_delay) * float(factor) ** (attempt - 1)
    if max_delay:
        delay = min(delay, float(max_delay))
    if jitter:
        delay *= 1 + rng.uniform(-float(jitter), float(jitter))
    return max(delay, 0.0)
