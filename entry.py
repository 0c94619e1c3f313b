"""The ``itsm`` console script: a fast path in front of click.

click alone takes three times as long to import as Python takes to start
(issues #18 and #25), so the commands an agent runs most, and the help, are
handled here with the standard library when this module understands every
word of the command line:

- ``itsm --help`` / ``-h``, ``itsm`` (no arguments: the help on stderr, exit 2)
  and ``itsm --version``, in English: the root group's help rendered as click
  renders it (the same wrapping at every width) from commands/plain.py's
  ``ROOT_HELP`` and ``COMMAND_MODULES`` and from :data:`ROOT_OPTIONS`;
- ``itsm [global options] do KEY ACTION [--set F=V]... [--note T]
  [--expect-version N] [--json]`` and ``itsm ... comment KEY TEXT [--public]
  [--json]`` in remote mode (``--url``, ``ITSM_URL`` or ``url`` in itsm.toml),
  in English: one request to the desk server (engine.remote), the same output,
  errors and exit codes as the click commands, from the same functions
  (commands/plain.py).

Anything else, or anything it is not sure of (another language, an unknown or
repeated option, a value that looks like an option, direct mode, settings that
do not load), goes to click (cli.main) untouched, which prints what it always
printed, usage errors included.  tests/cli/test_entry.py and
tests/cli/test_remote.py hold both paths to the same bytes and this module's
option tables to the click commands' options.

    itsm = "entry:main"      (pyproject.toml)

May import: cli, ground.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The root group's options as its --help lists them (spec, help), in order;
# tests/cli/test_entry.py compares them with click's own records of cli.main.
ROOT_OPTIONS = (
    ("--home DIR", "Process repository (default: $ITSM_HOME, the nearest folder upward with "
                   "processes/ and codes/, else the bundled defaults)."),
    ("--db URL", "Database URL (default: SQLite in the repository's .itsm/ folder)."),
    ("--url URL", "A desk server (itsm serve): the agent commands go through its JSON API "
                  "with your token (itsm login); default: url in itsm.toml."),
    ("--as USER", "Acting user (id or e-mail)."),
    ("--now ISO8601", "The current time, for simulation and back-filling."),
    ("--lang [en|zh]", "Language of labels and messages (default: $ITSM_LANG, else the acting "
                       "person's own language, else en)."),
    ("--debug", "Show tracebacks of internal errors."),
    ("--version", "Show the version and exit."),
    ("-h, --help", "Show this message and exit."),
)
USAGE_ARGS = "[OPTIONS] COMMAND [ARGS]..."

# What the fast parser knows of the command line (kept equal to the click
# declarations by tests/cli/test_entry.py): option -> (parameter, envvar).
GLOBAL_VALUES = {"--home": ("home", "ITSM_HOME"), "--db": ("db", "ITSM_DATABASE_URL"),
                 "--url": ("url", "ITSM_URL"), "--as": ("user", "ITSM_USER"), "--now": ("now", "ITSM_NOW"),
                 "--lang": ("lang", "ITSM_LANG")}
GLOBAL_FLAGS = {"--debug": "debug"}
# command -> (its arguments, its value options: option -> (parameter, multiple), its flags)
FAST_COMMANDS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, bool]], dict[str, str]]] = {
    "do": (("key", "action"), {"--set": ("sets", True), "--note": ("note", False),
                               "--expect-version": ("expect_version", False)}, {"--json": "as_json"}),
    "comment": (("key", "text"), {}, {"--public": "public", "--json": "as_json"}),
}


def main() -> None:
    """The console script: the fast path when it applies, else click."""
    # run as ``python -m ...``, click names the program otherwise: click's
    code = fast(sys.argv[1:]) if getattr(sys.modules.get("__main__"), "__package__", None) in (None, "") else None
    if code is None:
        import cli

        cli.main()
    else:
        sys.exit(code)


def fast(argv: list[str]) -> int | None:
    """Run ``itsm ARGV`` without click and return its exit code, or None when
    click is to run it (nothing has been written then)."""
    if os.environ.get("ITSM_LANG") not in (None, "", "en") or not _utf8(sys.stdout) or not _utf8(sys.stderr):
        return None  # another language or another encoding: click's
    if argv in (["--help"], ["-h"]):
        return _out(root_help(), err=False, code=0)
    if not argv:  # click: the help on stderr, exit 2 (a usage error)
        return _out(root_help(), err=True, code=2)
    if argv == ["--version"]:
        from engine import __version__

        return _out(f"itsm, version {__version__}\n", err=False, code=0)
    if any("\ud800" <= c <= "\udfff" for arg in argv for c in arg):
        return None  # bytes that are not UTF-8: click names the option (commands.common.utf8_text)
    return _remote(argv)


def _utf8(stream: "Any") -> bool:
    encoding = str(getattr(stream, "encoding", "") or "").lower().replace("_", "-")
    return encoding in ("utf-8", "utf8")


def _out(text: str, err: bool, code: int) -> int:
    from commands.plain import write

    try:
        write(text, err=err)
    except BrokenPipeError:  # as click's main: quietly, exit 1
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written
        return 1
    return code


# -- the root help, as click formats it ----------------------------------------------------

def root_help(width: int | None = None, prog: str | None = None) -> str:
    """``itsm --help`` at ``width`` (default: as cli.ItsmContext finds it), with
    the newline click.echo adds; ``prog``: the script's name, as click finds it."""
    from commands.plain import COMMAND_MODULES, ROOT_HELP, definition_list, help_width

    width = help_width() if width is None else width
    if prog is None:
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "itsm"
    out: list[str] = []
    prefix = f"Usage: {prog} "
    if width >= len(prefix) + 20:
        out.append(_wrap_text(USAGE_ARGS, width, prefix, " " * len(prefix)))
    else:
        out += [prefix, "\n", _wrap_text(USAGE_ARGS, width, " " * (len("Usage: ") + 4), " " * (len("Usage: ") + 4))]
    out.append("\n")
    text = _cleandoc(ROOT_HELP).partition("\f")[0]
    if text:
        out += ["\n", _wrap_text(text, width, "  ", "  ", preserve_paragraphs=True), "\n"]
    out += ["\n", "Options:\n"]
    out += definition_list(list(ROOT_OPTIONS), width, 2, _fill)
    names = sorted(COMMAND_MODULES)
    limit = width - 6 - max(len(n) for n in names)
    out += ["\n", "Commands:\n"]
    out += definition_list([(n, _short_help(COMMAND_MODULES[n][1], limit)) for n in names], width, 2, _fill)
    return "".join(out).rstrip("\n") + "\n"


def _cleandoc(doc: str) -> str:
    """inspect.cleandoc (without importing inspect)."""
    lines = doc.expandtabs().split("\n")
    margin = min((len(line) - len(line.lstrip()) for line in lines[1:] if line.lstrip()), default=None)
    lines[0] = lines[0].lstrip()
    if margin is not None:
        lines[1:] = [line[margin:] for line in lines[1:]]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def _wrapper(width: int, initial: str, subsequent: str) -> "Any":
    import textwrap

    class Wrapper(textwrap.TextWrapper):  # click._textwrap.TextWrapper, for text without ANSI codes
        def _handle_long_word(self, reversed_chunks: list[str], cur_line: list[str], cur_len: int,
                              width: int) -> None:
            space_left = max(width - cur_len, 1)
            if self.break_long_words:
                last = reversed_chunks[-1]
                cur_line.append(last[:space_left])
                reversed_chunks[-1] = last[space_left:]
            elif not cur_line:
                cur_line.append(reversed_chunks.pop())

    return Wrapper(width, initial_indent=initial, subsequent_indent=subsequent, replace_whitespace=False)


def _wrap_text(text: str, width: int, initial: str = "", subsequent: str = "",
               preserve_paragraphs: bool = False) -> str:
    """click.formatting.wrap_text."""
    text = text.expandtabs()
    wrapper = _wrapper(width, initial, subsequent)
    if not preserve_paragraphs:
        return str(wrapper.fill(text))
    paragraphs: list[tuple[int, bool, str]] = []
    buf: list[str] = []
    indent: int | None = None

    def flush() -> None:
        if not buf:
            return
        if buf[0].strip() == "\b":
            paragraphs.append((indent or 0, True, "\n".join(buf[1:])))
        else:
            paragraphs.append((indent or 0, False, " ".join(buf)))
        del buf[:]

    for line in text.splitlines():
        if not line:
            flush()
            indent = None
        else:
            if indent is None:
                stripped = line.lstrip()
                indent = len(line) - len(stripped)
                line = stripped
            buf.append(line)
    flush()
    done = []
    for extra, raw, para in paragraphs:
        first, rest = wrapper.initial_indent, wrapper.subsequent_indent
        wrapper.initial_indent, wrapper.subsequent_indent = first + " " * extra, rest + " " * extra
        if raw:
            done.append("\n".join((wrapper.initial_indent if i == 0 else wrapper.subsequent_indent) + line
                                  for i, line in enumerate(para.splitlines())))
        else:
            done.append(wrapper.fill(para))
        wrapper.initial_indent, wrapper.subsequent_indent = first, rest
    return "\n\n".join(done)


def _fill(text: str, width: int) -> list[str]:
    """A help's lines, as click's write_dl wraps them."""
    return _wrap_text(text, width, preserve_paragraphs=True).splitlines()


def _short_help(text: str, limit: int) -> str:
    """click.Command(help=text).get_short_help_str(limit)."""
    words = text.partition("\n\n")[0].split()
    if words and words[0] == "\b":
        words = words[1:]
    if not words:
        return ""
    for i, word in enumerate(words):  # a period ends a sentence unless a lowercase word follows
        if word.endswith(".") and (i == len(words) - 1 or not words[i + 1][0].islower()):
            words = words[: i + 1]
            break
    short = " ".join(words)
    if len(short) <= limit:
        return short.strip()
    if limit < 3:
        return "..."
    import textwrap

    return textwrap.shorten(short, limit, placeholder="...", break_on_hyphens=False).strip()


# -- remote commands -------------------------------------------------------------------------

def _options(argv: list[str], start: int, values: "dict[str, Any]", flags: dict[str, str],
             got: "dict[str, Any]", interspersed: bool) -> tuple[int, list[str]] | None:
    """Read options from ``argv[start:]`` into ``got`` (values: option ->
    (parameter, multiple)); the positional arguments met (the first one only,
    where options cannot follow it); None for anything not understood."""
    positional: list[str] = []
    i = start
    while i < len(argv):
        token = argv[i]
        if not token.startswith("-") or token == "-":
            if token == "-":
                return None
            positional.append(token)
            i += 1
            if not interspersed:
                return i, positional
            continue
        name, eq, value = token.partition("=")
        if name in flags and not eq:
            if flags[name] in got:
                return None
            got[flags[name]] = True
            i += 1
        elif name in values:
            param, multiple = values[name]
            if not eq:
                if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                    return None  # click decides what a value that looks like an option means
                value = argv[i + 1]
                i += 1
            i += 1
            if multiple:
                got.setdefault(param, []).append(value)
            elif param in got:
                return None
            else:
                got[param] = value
        else:
            return None  # --help, --, an unknown option: click's to answer
    return i, positional


def _remote(argv: list[str]) -> int | None:
    given: dict[str, Any] = {}
    root_values = {opt: (param, False) for opt, (param, _) in GLOBAL_VALUES.items()}
    read = _options(argv, 0, root_values, GLOBAL_FLAGS, given, interspersed=False)
    if read is None or len(read[1]) != 1 or read[1][0] not in FAST_COMMANDS:
        return None
    name = read[1][0]
    arguments, values, flags = FAST_COMMANDS[name]
    got: dict[str, Any] = {}
    done = _options(argv, read[0], values, flags, got, interspersed=True)
    if done is None or len(done[1]) != len(arguments):
        return None
    env = {param: os.environ.get(var) or None for param, var in GLOBAL_VALUES.values()}
    opt = {param: given[param] if param in given else env[param] for param in env}
    if opt["lang"] not in (None, "en"):
        return None
    expect = got.get("expect_version")
    if expect is not None:
        if not (expect.isascii() and expect.isdigit()) or len(expect) > 19:
            return None  # not a version (or beyond 64 bits): click's, which says why
        got["expect_version"] = int(expect)
    url = _remote_url(opt["url"], opt["db"], opt["home"])
    if url is None:
        return None  # direct mode (or settings click is to report)
    return _run(name, dict(zip(arguments, done[1])), got, url, opt, bool(given.get("debug")))


def _remote_url(url: str | None, db: str | None, home: str | None) -> str | None:
    """The desk server of an agent command as commands.common.State finds it;
    None for direct mode and for settings that raise (click reports them)."""
    from commands.plain import desk_url

    try:
        return desk_url(url, db, home, agent_command=True)
    except Exception:  # noqa: BLE001 - click runs the command and reports it
        return None


def _run(name: str, args: dict[str, str], got: "dict[str, Any]", url: str, opt: "dict[str, Any]",
         debug: bool) -> int:
    """The click command's body and cli.ItsmGroup.invoke's error handling."""
    from commands.plain import (comment_text, done_text, error_text, internal_error_text, interrupted_text,
                                parse_sets, remote_api, write)
    from engine.errors import ItsmError

    lang = "en"
    as_json = bool(got.get("as_json"))
    try:
        api = remote_api(url, opt["user"], opt["now"], lang)
        if name == "do":
            result = api.do(args["key"], args["action"], parse_sets(got.get("sets") or ()), got.get("note"),
                            got.get("expect_version"))
            text = lambda: done_text(result, args["action"], lang)  # noqa: E731 - English: the action's id
        else:
            result = api.comment(args["key"], args["text"], bool(got.get("public")))
            text = lambda: comment_text(result, args["key"], lang)  # noqa: E731
        if as_json:
            from engine import render

            write(render.to_json(result))
        else:
            write(text())
        return 0
    except ItsmError as exc:
        write(error_text(exc, as_json, lang), err=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        write(interrupted_text(lang), err=True)
        return 130
    except Exception as exc:  # a bug: short message, traceback only with --debug
        if debug:
            raise
        write(internal_error_text(exc, lang), err=True)
        return 3
