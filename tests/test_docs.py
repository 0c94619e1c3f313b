"""Every command has help with an example and is documented (as sqlite-utils does)."""

from pathlib import Path

import re

import click
import pytest

import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, full + " "))
        else:
            out.append((full, cmd))
    return out


COMMANDS = _commands(cli.load_commands())


def test_the_cli_has_the_commands_of_the_contract() -> None:
    names = {n for n, _ in COMMANDS}
    for expected in ("init", "db upgrade", "user add", "user list", "new", "do", "actions", "show",
                     "history", "list", "comment", "link", "status", "tick", "outbox deliver",
                     "outbox list", "major board", "lint", "graph", "migrate", "audit verify", "demo"):
        assert expected in names, expected


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_has_help_and_is_documented(name: str, cmd: click.Command) -> None:
    assert cmd.help and len(cmd.help.strip()) > 20, f"itsm {name} needs a help text"
    if name not in ("user list", "outbox retry", "audit verify", "db upgrade"):
        assert "Example:" in cmd.help, f"itsm {name} --help needs an example"
    # "itsm NAME", possibly with global options between: itsm --as wang.lei do ...
    pattern = r"itsm(?:\s+--?[\w-]+(?:[ =](?!-)\S+)?)*\s+" + re.escape(name) + r"\b"
    assert re.search(pattern, DOCS), f"'itsm {name}' does not appear in README.md or docs/"


def test_the_lazy_listing_of_help_is_true() -> None:
    """``itsm --help`` lists the commands from cli.COMMAND_MODULES without importing
    them: each entry names the module that declares the command, and its text is
    the first paragraph of the command's own help, as click would show it."""
    group = cli.load_commands()
    assert set(cli.COMMAND_MODULES) == set(group.commands)
    for name, (module, text) in cli.COMMAND_MODULES.items():
        cmd = group.commands[name]
        assert cmd.callback is not None and cmd.callback.__module__ == f"commands.{module}", name
        for limit in (40, 60, 200):
            assert click.Command(name, help=text).get_short_help_str(limit) == cmd.get_short_help_str(limit), (name, limit)


GLOBAL_OPTIONS = ("--home", "--db", "--url", "--as", "--now", "--lang", "--debug")


def _global_options_after_the_command(line: str) -> list[str]:
    """The root options a documented ``itsm ...`` line gives after its command, which
    the command itself does not take (click refuses them: 'No such option')."""
    import shlex

    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return []
    words = words[words.index("itsm") + 1:] if "itsm" in words else []
    command: click.Command = cli.main
    found, values = [], iter(words)
    for word in values:
        name = word.split("=")[0]
        if word.startswith("-"):
            if command is cli.main:
                if name != "--debug" and "=" not in word:
                    next(values, None)  # the root option's value
            elif name in GLOBAL_OPTIONS and not any(name in p.opts for p in command.params):
                found.append(name)
        elif isinstance(command, click.Group) and word in command.commands:
            command = command.commands[word]
        elif command is cli.main:
            break  # not an itsm command line (prose)
    return found


def test_documented_command_lines_give_the_global_options_before_the_command() -> None:
    """``itsm --now T tick``, not ``itsm tick --now T`` (review F7)."""
    wrong = [line.strip() for line in DOCS.splitlines()
             if re.match(r"^\s*(\$ )?itsm ", line) and _global_options_after_the_command(line)]
    assert wrong == []
