"""Bounds on what strangers send, shared by every door (the JSON API, alert
intake): how deep decoded JSON may nest."""

from __future__ import annotations

from typing import Any


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
