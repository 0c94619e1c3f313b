"""YAML text -> plain Python data that remembers where every node came from.

This is the only module that imports :mod:`yaml`.  The YAML 1.2 core schema is
applied (``on``/``no``/``yes`` stay strings, ``1:30`` stays a string, ``010`` is
ten), duplicate keys are refused with both positions, and every value and key
keeps its line and column so validation and lint can point at the source.
Plain scalars that a YAML 1.1 reader (PyYAML, many tools) would read differently
are remembered as *traps* for lint.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from engine.errors import DefinitionError
from engine.i18n import N_, Said, message, retell

Path_ = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
ALIAS_EXPANSION = 100_000  # values aliases may add beyond one per character of the text


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class Trap:
    """A plain scalar a YAML 1.1 reader would not read as the string we read."""

    path: Path_
    text: str
    yaml11: str  # what YAML 1.1 makes of it
    mark: Mark
    is_key: bool


@dataclass
class Document:
    """One parsed file: its data and the position of every node."""

    file: str
    data: Any
    sha256: str
    marks: dict[Path_, Mark] = field(default_factory=dict)
    key_marks: dict[Path_, Mark] = field(default_factory=dict)
    traps: list[Trap] = field(default_factory=list)
    header_comments: tuple[str, ...] = ()
    styles: dict[Path_, str] = field(default_factory=dict)  # scalar style: '', '"', "'", '|', '>'
    text: str = ""

    def value_position(self, path: Path_, offset: int) -> Mark:
        """Where character ``offset`` (0-based) of the scalar at ``path`` is in the file."""
        mark = self.mark(path)
        style = self.styles.get(tuple(path), "")
        if style in ("|", ">"):
            lines = self.text.splitlines()[mark.line:]  # content starts on the next line
            indent = next((len(l) - len(l.lstrip()) for l in lines if l.strip()), 0)
            for i, line in enumerate(lines):
                content = line[indent:]
                if offset <= len(content):
                    return Mark(mark.line + 1 + i, indent + offset + 1)
                offset -= len(content) + 1  # the joining space or newline
            return mark
        return Mark(mark.line, mark.column + offset + (1 if style in ('"', "'") else 0))

    def mark(self, path: Path_, *, key: bool = False) -> Mark:
        """Position of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            if key and p in self.key_marks:
                return self.key_marks[p]
            if p in self.marks:
                return self.marks[p]
            if not p:
                return Mark(1, 1)
            p = p[:-1]

    def get(self, path: Path_, default: Any = None) -> Any:
        node = self.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return default
        return node


class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """A SafeLoader whose implicit tags follow the YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}


for _tag, _regexp, _first in (
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+.0123456789")),
):
    _Loader.add_implicit_resolver(_TAG + _tag, re.compile(_regexp), _first)

_YAML11 = (
    (re.compile(r"^(?:y|Y|yes|Yes|YES|on|On|ON)$"), N_("boolean true")),
    (re.compile(r"^(?:n|N|no|No|NO|off|Off|OFF)$"), N_("boolean false")),
    (re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$"), N_("a sexagesimal number")),
    (re.compile(r"^[-+]?0[0-7_]+$"), N_("an octal number")),
    (re.compile(r"^[-+]?0b[01_]+$"), N_("a binary number")),
    (re.compile(r"^[-+]?[0-9][0-9_]*_[0-9_]*$"), N_("a number with underscores")),
    (re.compile(r"^\d{4}-\d{1,2}-\d{1,2}(?:[Tt ].*)?$"), N_("a timestamp")),
)


def yaml11_reading(text: str) -> str | None:
    """What a YAML 1.1 reader makes of a plain scalar, when it is not a string."""
    for pattern, meaning in _YAML11:
        if pattern.match(text):
            return meaning
    return None


def _mark(m: Any) -> Mark:
    return Mark(m.line + 1, m.column + 1)


class _Builder:
    def __init__(self, file: str, budget: int = 0) -> None:
        self.file = file
        # values left to build: aliases may repeat a node, but not expand a short text
        # into millions of values (a "billion laughs" document)
        self._budget = budget
        self.marks: dict[Path_, Mark] = {}
        self.key_marks: dict[Path_, Mark] = {}
        self.traps: list[Trap] = []
        self.styles: dict[Path_, str] = {}
        self._active: set[int] = set()

    def error(self, message: str, mark: Mark, path: Path_, rule: str) -> DefinitionError:
        return DefinitionError(message, file=self.file, line=mark.line, column=mark.column,
                               path=format_path(path) or None, rule=rule)

    def scalar(self, node: yaml.ScalarNode, path: Path_, *, is_key: bool = False) -> Any:
        tag = node.tag[len(_TAG):] if node.tag.startswith(_TAG) else node.tag
        value = node.value
        self.styles[path] = node.style or ""
        if not node.style and tag in ("str", "int"):
            meaning = yaml11_reading(value)
            if meaning:
                self.traps.append(Trap(path, value, meaning, _mark(node.start_mark), is_key))
        if tag == "str":
            return value
        if tag == "null":
            return None
        if tag == "bool":
            return value.lower() == "true"
        if tag == "int":
            if value.startswith("0o"):
                return int(value[2:], 8)
            if value.startswith("0x"):
                return int(value[2:], 16)
            return int(value)
        if tag == "float":
            low = value.lower()
            if low.endswith("inf"):
                return float("-inf") if low.startswith("-") else float("inf")
            if low == ".nan":
                return float("nan")
            return float(value)
        shown = "!!" + node.tag[len(_TAG):] if node.tag.startswith(_TAG) else node.tag
        raise self.error(message(N_("unsupported YAML tag {shown}"),
                                 shown=shown), _mark(node.start_mark), path, "yaml-syntax")

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self._budget -= 1
        if self._budget < 0:
            raise self.error(message(N_("YAML aliases expand to more than {limit:,} values"),
                                     limit=ALIAS_EXPANSION),
                             _mark(node.start_mark), path, "yaml-syntax")
        self.marks[path] = _mark(node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if id(node) in self._active:
            raise self.error(N_("recursive alias"), _mark(node.start_mark), path, "yaml-syntax")
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            out: dict[str, Any] = {}
            first: dict[str, Mark] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.error(N_("mapping keys must be plain values"),
                                     _mark(key_node.start_mark), path, "yaml-syntax")
                key_path = path + (str(key_node.value),)
                raw = self.scalar(key_node, key_path, is_key=True)
                key = raw if isinstance(raw, str) else str(key_node.value)
                km = _mark(key_node.start_mark)
                if key in first:
                    f = first[key]
                    raise self.error(
                        message(N_("duplicate key '{key}' (first at line {line}, column {column}; again at line {line2}, column {column2})"),
                                key=key, line=f.line, column=f.column, line2=km.line, column2=km.column),
                        km, path + (key,), "duplicate-key")
                first[key] = km
                self.key_marks[path + (key,)] = km
                out[key] = self.build(value_node, path + (key,))
            return out
        finally:
            self._active.discard(id(node))


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


YAML_PROBLEMS = (  # PyYAML's words, said in the reader's language (engine.i18n.retell)
    N_("while parsing a block mapping"), N_("while parsing a block collection"),
    N_("while parsing a flow mapping"), N_("while parsing a flow sequence"), N_("while parsing a flow node"),
    N_("while parsing a block node"), N_("while scanning a simple key"), N_("while scanning a quoted scalar"),
    N_("while scanning a plain scalar"), N_("while scanning an alias"), N_("while scanning an anchor"),
    N_("while scanning a block scalar"), N_("while scanning a tag"), N_("while parsing a node"),
    N_("mapping values are not allowed here"), N_("mapping values are not allowed in this context"), N_("could not find expected ':'"),
    N_("found unexpected end of stream"), N_("expected {expected}, but found {found}"),
    N_("expected {expected}, but got {found}"), N_("found character {character} that cannot start any token"),
    N_("did not find expected key"), N_("did not find expected node content"),
    N_("did not find expected '-' indicator"), N_("found undefined alias {alias}"),
    N_("found duplicate anchor {anchor}; first occurrence"), N_("second occurrence"),
    N_("found unknown escape character {character}"), N_("found unexpected ':'"),
    N_("while scanning for the next token"), N_("found character that cannot start any token"),
    N_("did not find expected ',' or ']'"), N_("did not find expected ',' or '}'"),
    N_("mapping keys are not allowed here"), N_("found unexpected document separator"),
    N_("while scanning a double-quoted scalar"), N_("while scanning a directive"),
    N_("while parsing a block mapping node"), N_("while parsing a flow mapping node"),
    N_("expected the node content, but found {found}"), N_("while composing a mapping"),
    N_("found duplicate key"))


def _yaml_problem(context: str | None, problem: str | None) -> Said:
    """PyYAML's context and problem, in the reader's language where the catalogue knows them."""
    parts = [p for p in (context, problem) if p]
    return Said(" ".join(parts), lambda lang: "，".join(retell(p, lang, YAML_PROBLEMS) for p in parts))


def parse(text: str, file: str = "<string>") -> Document:
    """Parse YAML text into a :class:`Document`; raise DefinitionError on any problem."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = _yaml_problem(exc.context, exc.problem)
        raise DefinitionError(N_("YAML syntax error: {problem}"), file=file, line=line,
                              column=col, rule="yaml-syntax", values={"problem": problem}) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        before = text[: exc.position]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        raise DefinitionError(N_("YAML syntax error: character {character!r} is not allowed in YAML"),
                              file=file, line=line, column=col, rule="yaml-syntax", values={"character": exc.character}) from None
    except yaml.YAMLError as exc:
        raise DefinitionError(N_("YAML error: {exc}"), file=file, line=1, column=1,
                              rule="yaml-syntax", values={"exc": exc}) from None
    builder = _Builder(file, budget=len(text) + ALIAS_EXPANSION)  # a value takes a character
    data = builder.build(node, ()) if node is not None else None
    comments = tuple(line for line in _leading_comments(text))
    return Document(file, data, digest, builder.marks, builder.key_marks, builder.traps, comments,
                    builder.styles, text)


def _leading_comments(text: str) -> Iterator[str]:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            return
        yield stripped


def load_file(path: Path, display: str | None = None) -> Document:
    """Read and parse one definition file."""
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DefinitionError(N_("file not found"), file=name, rule="missing-file") from None
    except OSError as exc:
        raise DefinitionError(N_("cannot read file: {strerror}"), file=name,
                              rule="missing-file", values={"strerror": message(exc.strerror or str(exc))}) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        raise DefinitionError(N_("not UTF-8 text: byte 0x{raw:02x} cannot be decoded"),
                              file=name, line=line, column=col, rule="yaml-syntax", values={"raw": raw[exc.start]}) from None
    return parse(text, name)


def dump(data: Any) -> str:
    """YAML text for plain data (used by ``itsm init`` and tests)."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
