"""Bounds on what strangers send, shared by every door (the JSON API, alert
intake, the CLI): how deep decoded JSON may nest; the times itsm computes with."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

MAX_ROW_ID = 2**63 - 1  # the largest id (or version) a database row has: a 64-bit integer

# The clock computes around a given time: due times business days ahead, the
# previous period of a report, the display time zone.  Near the ends of Python's
# datetime (years 1 and 9999) that overflows, so a time given to itsm (--now, a
# report's --from and --to) keeps a wide margin.
TIME_RANGE = (datetime(1900, 1, 1, tzinfo=timezone.utc), datetime(9000, 1, 1, tzinfo=timezone.utc))


def nested_deeper_than(data: Any, limit: int) -> bool:
    """Whether objects and lists in ``data`` nest deeper than ``limit`` (without
    recursion, holding only the path: a flat list of millions is cheap)."""
    stack = [iter((data,))]
    while stack:
        for child in stack[-1]:
            if isinstance(child, (dict, list)):
                if len(stack) > limit:  # the child's depth
                    return True
                stack.append(iter(child.values() if isinstance(child, dict) else child))
                break
        else:
            stack.pop()
    return False


def nul_at(data: Any, where: str = "body") -> str | None:
    """Where decoded JSON ``data`` holds a NUL character, in a string or a key
    (``body.alerts[1].summary``; with ``where`` empty, ``alerts[1].summary``), else
    None.  A NUL cannot be stored in PostgreSQL's text and ends C strings: every
    door refuses it whole.  Iterative, like :func:`nested_deeper_than`."""
    stack: list[tuple[Any, str]] = [(data, where)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return at
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and "\x00" in k:
                    return at
                stack.append((v, f"{at}.{k}" if at else str(k)))
        elif isinstance(value, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(value))
    return None
