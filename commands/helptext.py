"""``--help`` and usage errors in the language of ``--lang`` / ``ITSM_LANG`` (issue #23).

The English texts of the commands (docstrings, option help, metavars) are the
gettext msgids; they are not marked in the sources but found by walking the
command tree (``python tools/i18n.py extract`` uses :func:`help_units`), and
translated while the help is written (:class:`Formatter`).  click's own words
("Usage:", "Error: No such option ...") are its gettext msgids too
(:data:`CLICK_MESSAGES`): :func:`speaking` lets click's modules look them up in
our catalogue for one run, and puts them back afterwards.

Nothing here is imported for English: cli.py imports this module only when the
language of the run is not English.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from commands.plain import definition_list
from engine.i18n import N_, tr

CLICK_MESSAGES = (  # click's msgids (click.core, .exceptions, .parser, .types, .termui) that people meet
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Positional arguments"),
    N_("Show this message and exit."), N_("Show the version and exit."),
    N_("Error: {message}"), N_("Try '{command} {option}' for help."), N_("Aborted!"),
    N_("Missing command."), N_("No such command {name!r}."), N_("No such option {name!r}."),
    N_("No such option: {name}"), N_("Did you mean {possibility}?"), N_("(Did you mean one of: {possibilities}?)"),
    N_("Got unexpected extra argument ({args})"), N_("Got unexpected extra arguments ({args})"),
    N_("Missing argument"), N_("Missing option"), N_("Missing parameter"), N_("Missing {param_type}"),
    N_("Missing parameter: {param_name}"), N_("Invalid value: {message}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Option {name!r} requires an argument."), N_("Option {name!r} requires {nargs} arguments."),
    N_("Option {name!r} does not take a value."), N_("Argument {name!r} takes {nargs} values."),
    N_("{value!r} is not {choice}."), N_("{value!r} is not one of {choices}."),
    N_("{value!r} is not a valid {number_type}."), N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"),
    N_("{value!r} does not match the format {format}."), N_("{value!r} does not match the formats {formats}."),
    N_("{name} {filename!r} does not exist."), N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."), N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."), N_("Could not open file {filename!r}: {message}"),
    N_("Repeat for confirmation"), N_("Error: The two entered values do not match."),
    N_("Error: invalid input"), N_("env var: {var}"), N_("default: {default}"), N_("required"),
)
TYPE_NAMES = (N_("integer"), N_("float"), N_("integer range"), N_("float range"), N_("file"), N_("directory"),
              N_("path"))  # the names of click's types, said in its messages ("{value!r} is not a valid {number_type}.")
# Made once and kept by click (the help option's text, the name of a Path type): translated where
# they are shown (the help option's text, a Path's metavar), not when made.
_KEPT = frozenset({"Show this message and exit.", "Show the version and exit.", "file", "directory", "path"})
# click's words that are not its usage errors: with --json (:func:`speaking`'s ``errors_in_english``)
# these are still said in the language of the run, the usage errors stay English (the JSON message)
_NOT_ERRORS = frozenset({"Usage:", "Options", "Commands", "Positional arguments", "Show this message and exit.",
                         "Show the version and exit.", "Aborted!", "Repeat for confirmation",
                         "Error: The two entered values do not match.", "Error: invalid input", "env var: {var}",
                         "default: {default}", "required"})
_ERRORS = frozenset(CLICK_MESSAGES) - _NOT_ERRORS
_CLICK_MODULES = ("core", "exceptions", "parser", "types", "formatting", "decorators", "termui", "utils")


@contextmanager
def speaking(lang: str, help_lang: list[str], errors_in_english: bool = False) -> Iterator[None]:
    """For one run: click's own messages in ``lang``, and ``help_lang`` (commands.common.HELP_LANG,
    which makes the help formatters :class:`Formatter`) set to it; ``errors_in_english`` (--json):
    click's usage errors stay English, as a JSON error's message is."""
    def gettext(message: str) -> str:
        if message in _KEPT or (errors_in_english and message in _ERRORS):
            return message
        return tr(message, lang)

    def ngettext(singular: str, plural: str, n: int) -> str:
        message = singular if n == 1 else plural
        return message if errors_in_english and message in _ERRORS else tr(message, lang)

    saved: list[tuple[Any, str, Any]] = []
    for name in _CLICK_MODULES:
        module = sys.modules.get(f"click.{name}")
        for attr, new in (("_", gettext), ("ngettext", ngettext)):
            if module is not None and callable(getattr(module, attr, None)):
                saved.append((module, attr, getattr(module, attr)))
                setattr(module, attr, new)
    before, help_lang[0] = help_lang[0], lang
    try:
        yield
    finally:
        help_lang[0] = before
        for module, attr, old in reversed(saved):
            setattr(module, attr, old)


# -- what is translated: the units of a help text ---------------------------------------------

def _paragraphs(text: str) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            out[-1].append(line)
        elif out[-1]:
            out.append([])
    return [p for p in out if p]


_COMMENT = re.compile(r"(\s+#\s+)(.+)$")


def help_units(text: str) -> list[str]:
    """The msgids of a help text (a docstring, cleaned): each paragraph with its
    whitespace collapsed; in a ``\\b`` (verbatim) block, each unindented line (a
    heading such as "Example:") and each comment after ``#`` on an example line;
    the example command lines themselves stay as they are."""
    units = []
    for lines in _paragraphs(text.partition("\f")[0]):
        if lines[0].strip() == "\b":
            for line in lines[1:]:
                if not line[:1].isspace():
                    units.append(line.strip())
                elif (comment := _COMMENT.search(line)) is not None:
                    units.append(comment.group(2).strip())
        else:
            units.append(" ".join(" ".join(lines).split()))
    return units


def translate_help(text: str, lang: str) -> str:
    """A help text (cleaned) in ``lang``, its layout and example lines kept."""
    out = []
    for lines in _paragraphs(text.partition("\f")[0]):
        if lines[0].strip() == "\b":
            kept = [lines[0]]
            for line in lines[1:]:
                if not line[:1].isspace():
                    kept.append(tr(line.strip(), lang))
                else:
                    kept.append(_COMMENT.sub(lambda m: m.group(1) + tr(m.group(2).strip(), lang), line))
            out.append("\n".join(kept))
        else:
            indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
            paragraph = " ".join(" ".join(lines).split())
            out.append(indent + tr(paragraph, lang))
    return "\n\n".join(out)


METAVAR = re.compile(r"\b[A-Z][A-Z0-9_]*(?: RANGE)?\b")


def metavar_words(text: str) -> list[str]:
    """The metavars (KEY, FIELD=VALUE's FIELD and VALUE, INTEGER RANGE...) in a usage line or option column."""
    return METAVAR.findall(text)


def translate_metavars(text: str, lang: str) -> str:
    return METAVAR.sub(lambda m: tr(m.group(), lang), text)


def translate_bad_parameter(exc: click.BadParameter, ctx: click.Context, lang: str) -> None:
    """A bad or missing parameter as click says it, finished in ``lang``: an argument named by
    its placeholder as in the usage line ('编号'), the type's name ("integer") translated."""
    if exc.param_hint is None and isinstance(exc.param, click.Argument):
        exc.param_hint = translate_metavars(exc.param.get_error_hint(ctx), lang)
    name = getattr(getattr(exc.param, "type", None), "name", None)
    if name in TYPE_NAMES and exc.message:  # not inside the quoted value: 'integer' is not a valid integer
        alone = rf"(?<![A-Za-z0-9_']){re.escape(name)}(?![A-Za-z0-9_'])"
        exc.message = re.sub(alone, lambda _m: tr(name, lang), exc.message, count=1, flags=re.IGNORECASE)


def translate_option_help(text: str, lang: str) -> str:
    """An option's help, with the part click adds ("  [default: x]", translated by click) kept."""
    head, sep, extra = text.rpartition("  [")
    if sep and text.endswith("]") and head:
        return f"{tr(head, lang)}  [{extra}"
    return tr(text, lang)


def short_help(text: str, limit: int, lang: str) -> str:
    """The first sentence of a help text's first paragraph, in ``lang``, cut to ``limit`` columns."""
    units = help_units(text.partition("\n\n")[0]) if text else []
    if not units:
        return ""
    said = tr(units[0], lang)
    first, stop, rest = said.partition("。")
    said = first if stop and rest else said.rstrip("。")
    if width(said) <= limit:
        return said
    out = ""
    for char in said:
        if width(out + char) > limit - 3:
            break
        out += char
    return out.rstrip() + "..."


# -- how it is laid out: widths of Chinese characters ------------------------------------------

def width(text: str) -> int:
    """Columns ``text`` takes on a terminal (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


_CJK = "\u2e80-\u9fff\u3000-\u303f\uff00-\uffef"
_OPENING, _CLOSING = r"（「『《“‘(\[", r"，。、；：！？）」』》”’,.;:!?)\]"
_TOKEN = re.compile(rf"\s+|[{_OPENING}]*(?:[{_CJK}]|[^\s{_CJK}]+)[{_CLOSING}]*")


def wrap(text: str, limit: int, first: str = "", rest: str = "") -> list[str]:
    """``text`` filled to ``limit`` columns: Chinese may break between any two
    characters (never before closing punctuation), other words at spaces."""
    lines, line, space = [], first, False
    for token in _TOKEN.findall(text):
        if token.isspace():
            space = True
            continue
        gap = " " if space and line.strip() else ""
        if line.strip() and width(line + gap + token) > limit:
            lines.append(line.rstrip())
            line, gap = rest, ""
        line += gap + token
        space = False
    lines.append(line.rstrip())
    return lines


class Formatter(click.HelpFormatter):
    """click's help formatter, translating what passes through it and measuring
    Chinese characters as two columns."""

    def __init__(self, lang: str, width: int) -> None:
        super().__init__(width=width)
        self.lang = lang

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        if prefix is None:
            prefix = tr("Usage:", self.lang)
            prefix += "" if prefix.endswith("：") else " "
        head = f"{prefix:>{self.current_indent}}{prog} "
        args = translate_metavars(args, self.lang)
        if not args:
            self.write(head.rstrip(" ") + "\n")
        elif self.width - self.current_indent >= width(head) + 20:
            self.write("\n".join(wrap(args, self.width - self.current_indent, head, " " * width(head))) + "\n")
        else:
            indent = " " * (max(self.current_indent, width(prefix)) + 4)
            self.write(head + "\n" + "\n".join(wrap(args, self.width, indent, indent)) + "\n")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{tr(heading, self.lang)}：\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        out = []
        for lines in _paragraphs(translate_help(text, self.lang)):
            extra = " " * (len(lines[0]) - len(lines[0].lstrip()))
            if lines[0].strip() == "\b":
                out.append("\n".join(indent + extra + line for line in lines[1:]))
            else:
                out.append("\n".join(wrap(" ".join(lines), self.width, indent + extra, indent + extra)))
        self.write("\n\n".join(out) + "\n")

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = [(translate_metavars(a, self.lang), translate_option_help(b, self.lang) if b else b)
                for a, b in rows]
        self.write("".join(definition_list(rows, self.width, self.current_indent, wrap, width, col_max, col_spacing)))
