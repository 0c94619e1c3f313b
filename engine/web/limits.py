"""Abuse limits of ``itsm serve``: failed logins, portal submissions and status
look-ups, JSON API requests (the counts are ``[security]`` settings, see
engine/settings.py and docs/security.md).

The counters live in this process (a sliding window per name), so a deployment
that runs several ``itsm serve`` processes behind one proxy allows each process's
count; the acknowledgement cap, which protects third parties, is counted in the
database instead (engine/desk/portal.py ``may_acknowledge``).  Memory is bounded:
at most :data:`MAX_NAMES` names are tracked, the oldest forgotten first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from typing import Callable

from engine.errors import Throttled

MAX_NAMES = 100_000


class Limiter:
    """Counts events per name in a sliding window; :meth:`hit` raises
    :class:`Throttled` (429) once a name passes its limit."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.seen: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, name: str, limit: int, window: float) -> int:
        """Seconds until ``name`` may act again (0: now)."""
        if limit <= 0:
            return 0
        now = self.clock()
        with self.lock:
            return self._wait(name, limit, window, now)

    def _wait(self, name: str, limit: int, window: float, now: float) -> int:
        times = self.seen.get(name)
        if times is None:
            return 0
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) < limit:
            return 0
        return max(1, math.ceil(times[0] + window - now))

    def _record(self, name: str, window: float, now: float) -> None:
        times = self.seen.pop(name, None) or deque()
        while times and times[0] <= now - window:
            times.popleft()
        times.append(now)
        self.seen[name] = times  # the most recent last
        while len(self.seen) > MAX_NAMES:
            self.seen.popitem(last=False)

    def hit(self, name: str, limit: int, window: float, what: str) -> None:
        """Count one event of ``name``; Throttled when it is over ``limit`` per ``window``
        (checked and counted under one lock: parallel requests cannot all pass)."""
        self.reserve((name,), limit, window, what)

    def reserve(self, names: tuple[str, ...], limit: int, window: float, what: str) -> float | None:
        """Count one event of each of ``names`` at once, or none of them and Throttled
        when one is at its limit; the event's time, for :meth:`release` (None: no limit).
        A failed login is reserved before the password is checked, and released
        when it succeeds, so that parallel guesses cannot all be checked."""
        if limit <= 0:
            return None
        now = self.clock()
        with self.lock:
            retry = max(self._wait(name, limit, window, now) for name in names)
            if retry:
                raise Throttled(f"too many {what}: try again in {retry} s", retry)
            for name in names:
                self._record(name, window, now)
        return now

    def release(self, names: tuple[str, ...], at: float | None) -> None:
        """Take back the events :meth:`reserve` counted at ``at`` (the login succeeded)."""
        if at is None:
            return
        with self.lock:
            for name in names:
                times = self.seen.get(name)
                if times is not None:
                    try:
                        times.remove(at)
                    except ValueError:
                        pass
