"""One display time (issue #23): one zone decides every time a person reads, and one
text form shows it with its offset."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

import cli as _cli
from engine import render
from engine.desk.views import display_tz
from engine.definitions.home import bundled_home
from engine.errors import UsageError
from engine.workspace import load_definitions


def test_the_text_form_of_a_time() -> None:
    assert render.when("2026-12-07T09:20:00+08:00") == "2026-12-07 09:20 +08:00"
    assert render.when(datetime(2026, 12, 7, 1, 20, tzinfo=timezone.utc)) == "2026-12-07 01:20 +00:00"
    assert render.when(datetime(2026, 3, 8, 1, 5, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))) \
        == "2026-03-08 01:05 -03:30"
    assert (render.when(None), render.when(""), render.when("2026-03-09"), render.when("soon")) == (
        "", "", "2026-03-09", "soon")


def test_the_display_zone() -> None:
    defs = load_definitions(bundled_home())
    assert display_tz(None, defs) == ZoneInfo("Asia/Shanghai")  # the head office's calendar
    assert display_tz("Europe/London", defs) == ZoneInfo("Europe/London")  # ITSM_TZ / settings win
    assert display_tz(None, None) == timezone.utc
    with pytest.raises(UsageError, match="unknown time zone 'Mars/Base'"):
        display_tz("Mars/Base", defs)


@pytest.mark.parametrize("zone, offset", [(None, "+08:00"), ("UTC", "+00:00")])
def test_the_demo_story_and_its_commands_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              zone: str | None, offset: str) -> None:
    if zone:
        monkeypatch.setenv("ITSM_TZ", zone)
    monkeypatch.setenv("TZ", "America/New_York")  # the machine's zone decides nothing
    out = CliRunner().invoke(_cli.main, ["demo", "--dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    story = re.search(r"\[Mon (\d\d:\d\d)\] li\.na@example\.com confirm INC-000001", out.stdout)
    explore = re.search(r"Explore: itsm (.*)$", out.stdout, re.M)
    assert story and explore
    listed = CliRunner().invoke(_cli.main, explore.group(1).split())
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if line.startswith("INC-000001"))
    assert row.endswith(f"2026-03-02 {story.group(1)} {offset}"), (story.group(0), row)
    history = CliRunner().invoke(_cli.main, [*explore.group(1).split()[:-1], "history", "INC-000001", "--json"])
    assert json_at(history.stdout)[-1].endswith(f"T{story.group(1)}:00{offset}")


def json_at(text: str) -> list[str]:
    import json

    return [e["at"] for e in json.loads(text)]


@pytest.mark.parametrize("zone, shown", [(None, "2026-03-02T09:00:00+08:00"), ("UTC", "2026-03-02T01:00:00+00:00")])
def test_a_client_clock_keeps_the_display_zone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               zone: str | None, shown: str) -> None:
    """``Api.at`` (a remote ``--now`` on a server that believes clients) moves the
    clock, not the zone; without ITSM_TZ it once crashed working the zone out
    from the time.  A copy of the desk shows times in its own zone, never from
    the other's memo."""
    from engine.api import Api

    monkeypatch.delenv("ITSM_TZ", raising=False)
    if zone:
        monkeypatch.setenv("ITSM_TZ", zone)
    api = Api.open(home=str(bundled_home()), db=f"sqlite:///{tmp_path / 'd.db'}", user="system")
    at = api.at("2026-03-02T01:00:00+00:00")
    assert at.tz == api.tz and at.desk.now() == datetime(2026, 3, 2, 1, tzinfo=timezone.utc)
    assert at.desk.iso(at.desk.now()) == api.desk.iso(at.desk.now()) == shown
    at.desk.tz = ZoneInfo("Europe/London")
    assert (at.desk.iso(at.desk.now()), api.desk.iso(at.desk.now())) == ("2026-03-02T01:00:00+00:00", shown)
