"""The console script's fast path (entry.py, issues #18 and #25): ``itsm --help``,
``itsm`` and ``itsm --version`` print, byte for byte, what click prints, at
every terminal width, without importing click; another language or any other
word on the command line goes to click; and the fast parser knows exactly the
options the click commands declare (so the two cannot drift apart).

The remote commands' fast path (``itsm do``, ``itsm comment`` on a desk server)
is tested against a real server in tests/cli/test_remote.py with
:func:`both_paths`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

import cli
import entry
from _fastpath import both_paths

ITSM = str(Path(sys.executable).with_name("itsm"))


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, Any]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ITSM_") and k != "COLUMNS"}


def test_help_and_version_are_clicks_bytes_without_click(env: dict[str, str], tmp_path: Path) -> None:
    helps = set()
    for columns in ("40", "80", "200"):
        code, out, err = both_paths(["--help"], {**env, "COLUMNS": columns}, tmp_path)
        assert code == 0 and out.startswith("Usage: itsm [OPTIONS] COMMAND") and not err
        helps.add(out)
    assert len(helps) == 2  # 40 columns wrap at 50, 80 and 200 at 78
    assert both_paths(["-h"], env, tmp_path)[1] == out
    assert both_paths([], env, tmp_path) == (2, "", out)  # no command: the help on stderr, exit 2
    assert both_paths(["--version"], env, tmp_path)[1].startswith("itsm, version ")
    # what the fast path does not handle goes to click as it is
    both_paths(["--help"], {**env, "ITSM_LANG": "zh"}, tmp_path, fast=False)
    both_paths(["--version", "--help"], env, tmp_path, fast=False)
    assert both_paths(["--bogus"], env, tmp_path, fast=False)[0] == 2
    # and the installed console script is entry.main
    assert subprocess.run([ITSM, "--help"], capture_output=True, text=True, env={**env, "COLUMNS": "200"},
                          timeout=60).stdout == out


def test_the_root_help_at_every_width() -> None:
    """entry.root_help formats as click's HelpFormatter at any width (the CLI
    uses 50 to 78; far narrower and wider ones exercise the wrapping)."""
    for width in [*range(12, 100), 200]:
        ctx = cli.ItsmContext(cli.main, info_name="itsm", terminal_width=width, **cli.main.context_settings)
        assert entry.root_help(width, "itsm") == cli.main.get_help(ctx) + "\n", width


def _declared(command: click.Command, ctx: click.Context) -> dict[str, Any]:
    options = [p for p in command.get_params(ctx) if isinstance(p, click.Option)]
    return {"arguments": tuple(p.name for p in command.params if isinstance(p, click.Argument)),
            "values": {o: (p.name, p.multiple) for p in options if not p.is_flag for o in p.opts},
            "flags": {o: p.name for p in options if p.is_flag for o in p.opts}}


def test_the_fast_parser_knows_exactly_the_click_options() -> None:
    """The options entry.py parses are those of the click declarations, with the
    same parameters, environment variables and kinds: a new option on the root
    group or on a fast command fails here until entry.py knows it."""
    group = cli.load_commands()
    ctx = click.Context(group, info_name="itsm", **group.context_settings)
    root = _declared(group, ctx)
    assert root["values"] == {o: (param, False) for o, (param, _) in entry.GLOBAL_VALUES.items()}
    assert root["flags"] == {**entry.GLOBAL_FLAGS, "--version": "version", "-h": "_click_default_help",
                             "--help": "_click_default_help"}
    params = {p.name: p for p in group.params}
    assert {o: (params[n].name, params[n].envvar) for o, (n, _) in entry.GLOBAL_VALUES.items()} == \
        {o: (n, var) for o, (n, var) in entry.GLOBAL_VALUES.items()}
    assert params["lang"].type.choices == ("en", "zh")  # type: ignore[attr-defined]
    # the help records of the options, as --help lists them
    assert tuple(p.get_help_record(ctx) for p in group.get_params(ctx)) == entry.ROOT_OPTIONS
    for name, (arguments, values, flags) in entry.FAST_COMMANDS.items():
        command = group.commands[name]
        sub = click.Context(command, info_name=name, parent=ctx)
        made = _declared(command, sub)
        assert made == {"arguments": arguments, "values": values,
                        "flags": {**flags, "-h": "_click_default_help", "--help": "_click_default_help"}}, name
        assert all(isinstance(p.type, (click.types.StringParamType, click.types.BoolParamType))
                   or p.name == "expect_version" and p.type is click.INT for p in command.params), name


@pytest.mark.parametrize("argv", [["do"], ["do", "K"], ["do", "K", "a", "b"], ["--as", "x"], ["--url"],
                                  ["do", "K", "a", "--set"], ["do", "K", "a", "--note", "-x"],
                                  ["do", "K", "a", "--note", "x", "--note", "y"], ["do", "K", "a", "--"],
                                  ["do", "K", "a", "--json=1"], ["do", "K", "a", "-h"], ["show", "K"],
                                  ["--lang", "zh", "do", "K", "a"], ["do", "K", "a", "--expect-version", "x"],
                                  ["--debug", "--debug", "do", "K", "a"]])
def test_what_the_fast_parser_is_not_sure_of_goes_to_click(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ITSM_URL", "http://127.0.0.1:9")
    assert entry.fast(argv) is None
    assert capsys.readouterr() == ("", "")  # nothing written: click starts afresh
    # the positive control: what it understands, it runs (here: no server there, exit 3)
    assert entry.fast(["--debug", "do", "K", "a", "--set", "x=1", "--note=n", "--expect-version", "7", "--json"]) == 3
    assert json.loads(capsys.readouterr().err)["error"] == "unreachable"


def test_direct_mode_goes_to_click(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "none.toml").write_text("")
    monkeypatch.setenv("ITSM_CONFIG", str(tmp_path / "none.toml"))
    assert entry.fast(["do", "K", "a"]) is None  # no desk server named
    (tmp_path / "team.toml").write_text('url = "http://127.0.0.1:9"\n')
    monkeypatch.setenv("ITSM_CONFIG", str(tmp_path / "team.toml"))
    assert entry.fast(["--db", "sqlite://", "do", "K", "a"]) is None  # a database named: direct mode
    (tmp_path / "team.toml").write_text('url = "ftp://desk"\n')
    assert entry.fast(["do", "K", "a"]) is None  # click reports the bad url
