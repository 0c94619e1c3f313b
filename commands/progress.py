"""Long work counts on stderr while it runs, when stderr is a terminal; in pipes,
logs and cron mail it stays quiet (stdout is for data either way)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO

EVERY = 0.2  # seconds between two updates of the line


class Progress:
    """``with Progress("tick") as p: ... p(done, total)`` -- a callable the engine
    can be handed (it knows nothing of terminals)."""

    def __init__(self, label: str, stream: IO[str] | None = None, force: bool | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.active = force if force is not None else bool(isatty and isatty())
        self.started = time.monotonic()
        self.shown = 0.0
        self.width = 0

    def __call__(self, done: int, total: int | None = None) -> None:
        if not self.active:
            return
        now = time.monotonic()
        if now - self.shown < EVERY and (total is None or done < total):
            return
        self.shown = now
        rate = done / (now - self.started) if now > self.started else 0.0
        count = f"{done:,}/{total:,}" if total else f"{done:,}"
        line = f"{self.label}: {count} ({rate:,.0f}/s)"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def note(self, message: str) -> None:
        """A line of its own (a failure, a warning), above the running count."""
        if self.active and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
            self.shown = 0.0  # the count comes back at the next update
        self.stream.write(message + "\n")
        self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.active and self.width:
            self.stream.write("\r" + " " * self.width + "\r")  # the summary line takes its place
            self.stream.flush()
