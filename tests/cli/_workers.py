"""Code run in separate processes by test_concurrency (importable by spawned children)."""

from __future__ import annotations

from typing import Any


def work_one_ticket(db: str, key: str, worker: int, actions: int, user: str, barrier: Any,
                    results: Any) -> None:
    """Alternate ``update --set affected_users=<unique>`` and ``comment`` on one ticket.

    The values stay below 100 so that the major-incident criteria (100 or more
    affected users) never link a candidate to the ticket meanwhile."""
    from engine.api import Api
    from engine.errors import ItsmError

    api = Api.open(db=db, user=user)  # one long-lived process, like a portal worker
    out: list[tuple[Any, ...]] = []
    barrier.wait()
    for i in range(actions):
        value = 1 + worker * actions + i
        kind = "update" if i % 2 == 0 else "comment"
        try:
            if kind == "update":
                api.do(key, "update", {"affected_users": str(value)})
            else:
                api.comment(key, f"worker {worker} note {i}")
            out.append(("ok", kind, value, 0, ""))
        except ItsmError as exc:
            out.append(("error", kind, value, int(exc.exit_code), exc.message))
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails
            out.append(("crash", kind, value, -1, f"{type(exc).__name__}: {exc}"))
    results.put((worker, out))


def create_tickets(db: str, worker: int, count: int, user: str, barrier: Any, results: Any) -> None:
    """Log ``count`` incidents as fast as possible."""
    from engine.api import Api
    from engine.errors import ItsmError

    api = Api.open(db=db, user=user)
    out: list[tuple[Any, ...]] = []
    barrier.wait()
    for i in range(count):
        try:
            t = api.new_ticket("incident", {"title": f"Load test {worker}-{i}",
                                            "reporter": "load.test@example.com"})
            out.append(("ok", t["key"], 0, ""))
        except ItsmError as exc:
            out.append(("error", None, int(exc.exit_code), exc.message))
        except Exception as exc:  # noqa: BLE001
            out.append(("crash", None, -1, f"{type(exc).__name__}: {exc}"))
    results.put((worker, out))
