"""`Deadline`: the first rule of time (`pylts.timing`) as an object that several steps of one call share.

A ``timeout`` is a deadline for the whole call, counted from the moment it is called: each step asks
the one `Deadline` how much is left. It lives apart from the durations because it refuses a bad
timeout with a typed error, and `pylts.timing` imports nothing of pylts.
"""

from __future__ import annotations

import time

from .errors import InvalidArgument
from .timing import timeout_problem


class Deadline:
    """A point in time that several steps of one call share.

    >>> d = Deadline(30)
    >>> 29 < d.remaining() <= 30
    True
    >>> Deadline(0)
    Traceback (most recent call last):
    ...
    pylts.errors.InvalidArgument: timeout must be a positive number of seconds, got 0
    """

    def __init__(self, seconds: float) -> None:
        problem = timeout_problem(seconds)
        if problem is not None:
            raise InvalidArgument(problem)
        self.seconds = float(seconds)
        self._end = time.monotonic() + self.seconds

    def remaining(self) -> float:
        """Seconds left, never below zero."""
        return max(self._end - time.monotonic(), 0.0)

    @property
    def expired(self) -> bool:
        """Whether no time is left."""
        return self.remaining() == 0.0
