"""Helpers of the end-to-end CLI tests: a desk that logs and works tickets
through the CLI and re-reads them from the database after every step."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

CST = timezone(timedelta(hours=8))


def at(text: str) -> str:
    """'2026-03-02 09:00' -> '2026-03-02T09:00:00+08:00' (the --now of a step)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST).isoformat()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Desk:
    """Works tickets through the CLI; every read is a fresh invocation."""

    def __init__(self, itsm: Any, org: Any) -> None:
        self.itsm = itsm
        self.org = org
        self.clock: str | None = None  # the time of the last step; reads happen then

    def new(self, process: str, user: str, now: str, *, title: str, reporter: str | None = None,
            urgency: str | None = None, impact: str | None = None, service: str | None = None,
            description: str | None = None, note: str | None = None, expect: int = 0,
            **sets: Any) -> Any:
        args: list[Any] = ["new", process, "--title", title]
        for opt, value in (("--reporter", reporter), ("--urgency", urgency), ("--impact", impact),
                           ("--service", service), ("--description", description), ("--note", note)):
            if value is not None:
                args += [opt, value]
        for k, v in sets.items():
            args += ["--set", f"{k}={_text(v)}"]
        if expect == 0:
            self.clock = now
        return self.itsm.json(*args, user=user, now=at(now), expect=expect)

    def do(self, key: str, action: str, user: str, now: str, *, note: str | None = None,
           expect: int = 0, expect_version: int | None = None, **sets: Any) -> Any:
        if user == "system":  # the engine's own actor cannot be claimed from the CLI (#18)
            return self._as_engine(key, action, now, note, expect, {k: _text(v) for k, v in sets.items()})
        args: list[Any] = ["do", key, action]
        for k, v in sets.items():
            args += ["--set", f"{k}={_text(v)}"]
        if note is not None:
            args += ["--note", note]
        if expect_version is not None:
            args += ["--expect-version", expect_version]
        if expect == 0:
            self.clock = now
        return self.itsm.json(*args, user=user, now=at(now), expect=expect)

    def _as_engine(self, key: str, action: str, now: str, note: str | None, expect: int,
                   sets: dict[str, str]) -> Any:
        """An action of the engine itself (as a timer performs it), through the facade."""
        from engine.api import Api
        from engine.errors import ItsmError

        api = Api.open(db=self.itsm.db, now=at(now))
        try:
            done = api.do(key, action, sets, note, actor_id="system")
        except ItsmError as exc:
            assert int(exc.exit_code) == expect, exc
            return exc.to_dict()
        assert expect == 0, done
        self.clock = now
        return done

    def show(self, key: str, now: str | None = None, user: str | None = None) -> dict[str, Any]:
        """The ticket as of ``now`` (default: the time of the last step)."""
        when = now or self.clock
        return self.itsm.json("show", key, user=user or self.org.agent.id,
                              now=at(when) if when else None)

    def history(self, key: str) -> list[dict[str, Any]]:
        """The ticket's own journal (a major incident's history also shows its
        linked incidents' key events, marked with their ``ticket``)."""
        events = [e for e in self.timeline(key) if e.get("ticket", key) == key]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), events
        return events

    def timeline(self, key: str) -> list[dict[str, Any]]:
        return self.itsm.json("history", key, user=self.org.agent.id)

    def snapshot(self, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The ticket and its journal, to compare before and after a refusal."""
        return self.show(key), self.history(key)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_event(event: dict[str, Any], action: str, actor: str, now: str,
                frm: str | None = None, to: str | None = None, **changes: Any) -> None:
    """One journal event: action, actor, states, time and (some) field changes."""
    assert event["action"] == action, event
    assert event["actor"] == actor, event
    assert event["from"] == frm, event
    assert event["to"] == to, event
    assert event["at"] == at(now), event
    assert parse(event["recorded_at"]).tzinfo is not None, event
    for name, (old, new) in changes.items():
        assert event["changes"].get(name) == [old, new], (name, event["changes"])

