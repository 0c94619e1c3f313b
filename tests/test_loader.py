"""engine.definitions.loader: YAML 1.2 core, refused duplicates, recorded YAML 1.1 traps, marks
of every node; and engine.model.Duration, the duration syntax of definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import DefinitionError
from engine.definitions.loader import Mark, Trap, load_file, parse, yaml11_reading
from engine.model import Duration


def refused(text: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        parse(text, "defs/x.yaml")
    assert info.value.file == "defs/x.yaml"
    return info.value


# --- duplicate keys --------------------------------------------------------------------

def test_duplicate_key_names_both_positions() -> None:
    err = refused("states:\n  new: {status: new}\n  closed: {status: closed}\n  new: {status: active}\n")
    assert err.rule == "duplicate-key"
    assert (err.line, err.column) == (4, 3)
    assert err.path == "states.new"
    assert err.message == "duplicate key 'new' (first at line 2, column 3; again at line 4, column 3)"


def test_duplicate_key_in_a_flow_mapping() -> None:
    err = refused("a: {b: 1, b: 2}\n")
    assert (err.rule, err.line, err.column) == ("duplicate-key", 1, 11)
    assert "first at line 1, column 5" in err.message


def test_duplicate_top_level_key() -> None:
    err = refused("version: 1\ntitle: x\nversion: 2\n")
    assert (err.rule, err.line, err.column, err.path) == ("duplicate-key", 3, 1, "version")


def test_same_key_in_different_mappings_is_fine() -> None:
    assert parse("a: {x: 1}\nb: {x: 2}\n").data == {"a": {"x": 1}, "b": {"x": 2}}


# --- YAML 1.2 core schema -----------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("on", "on"), ("off", "off"), ("no", "no"), ("yes", "yes"), ("y", "y"), ("N", "N"),
    ("Yes", "Yes"), ("ON", "ON"),
    ("1:30", "1:30"), ("010", 10), ("0o10", 8), ("0x1F", 31), ("-7", -7), ("+3", 3),
    ("1_000", "1_000"), ("0b101", "0b101"), ("2026-01-01", "2026-01-01"),
    ("true", True), ("False", False), ("TRUE", True),
    ("~", None), ("null", None), ("", None),
    ("1.5", 1.5), ("1e3", 1000.0), (".inf", float("inf")), ("-.inf", float("-inf")),
    ("'on'", "on"), ('"010"', "010"), ("15m", "15m"), ("3 business days", "3 business days"),
])
def test_yaml_1_2_core_scalars(text: str, value: object) -> None:
    data = parse(f"v: {text}\n").data
    assert data["v"] == value
    assert type(data["v"]) is type(value)


def test_nan() -> None:
    v = parse("v: .nan\n").data["v"]
    assert v != v


def test_keys_stay_strings() -> None:
    data = parse("on: 1\nno: 2\nyes: 3\n1: 4\ntrue: 5\n").data
    assert list(data) == ["on", "no", "yes", "1", "true"]


# --- YAML 1.1 traps ------------------------------------------------------------------------

def test_traps_are_recorded_with_kind_and_position() -> None:
    doc = parse("states:\n  on: {status: active}\ntimers:\n  t: {after: 1:30, repeat: yes}\nversion: 010\n")
    assert doc.traps == [
        Trap(("states", "on"), "on", "boolean true", Mark(2, 3), True),
        Trap(("timers", "t", "after"), "1:30", "a sexagesimal number", Mark(4, 14), False),
        Trap(("timers", "t", "repeat"), "yes", "boolean true", Mark(4, 28), False),
        Trap(("version",), "010", "an octal number", Mark(5, 10), False),
    ]


def test_quoted_scalars_are_not_traps() -> None:
    assert parse("a: 'on'\nb: \"1:30\"\n'no': x\nc: |\n  yes\n").traps == []


def test_plain_strings_that_are_not_traps() -> None:
    assert parse("a: online\nb: nobody\nc: 15m\nd: P3D\ne: 10\n").traps == []


@pytest.mark.parametrize("text, meaning", [
    ("yes", "boolean true"), ("On", "boolean true"), ("Y", "boolean true"),
    ("no", "boolean false"), ("OFF", "boolean false"), ("n", "boolean false"),
    ("1:30", "a sexagesimal number"), ("-1:30:05", "a sexagesimal number"),
    ("010", "an octal number"), ("0b11", "a binary number"), ("1_000", "a number with underscores"),
    ("2026-1-5", "a timestamp"), ("2026-01-05 10:00", "a timestamp"),
    ("hello", None), ("10", None), ("0", None), ("1.5", None), ("noon", None),
])
def test_yaml11_reading(text: str, meaning: str | None) -> None:
    assert yaml11_reading(text) == meaning


# --- positions -------------------------------------------------------------------------------

NESTED = """\
process: incident
states:
  new: {status: new, initial: true}
  closed:
    status: closed
    final: true
actions:
  close:
    from: [new, closed]
"""


def test_positions_of_values_and_keys() -> None:
    doc = parse(NESTED)
    assert doc.mark(("process",)) == Mark(1, 10)
    assert doc.mark(("process",), key=True) == Mark(1, 1)
    assert doc.mark(("states", "new"), key=True) == Mark(3, 3)
    assert doc.mark(("states", "new")) == Mark(3, 8)
    assert doc.mark(("states", "new", "initial")) == Mark(3, 31)
    assert doc.mark(("states", "new", "initial"), key=True) == Mark(3, 22)
    assert doc.mark(("states", "closed", "final"), key=True) == Mark(6, 5)
    assert doc.mark(("states", "closed", "final")) == Mark(6, 12)
    assert doc.mark(("actions", "close", "from", 1)) == Mark(9, 17)


def test_position_falls_back_to_the_nearest_ancestor() -> None:
    doc = parse(NESTED)
    assert doc.mark(("states", "closed", "owner")) == doc.mark(("states", "closed"))
    assert doc.mark(("actions", "close", "from", 7)) == Mark(9, 11)
    assert doc.mark(("nowhere", "at", "all")) == Mark(1, 1)


def test_get() -> None:
    doc = parse(NESTED)
    assert doc.get(("actions", "close", "from", 0)) == "new"
    assert doc.get(("actions", "open"), "none") == "none"
    assert doc.get(("process", "x")) is None


def test_positions_count_characters_not_bytes() -> None:
    doc = parse("title: {zh: 事件, en: Incident}\n")
    assert doc.mark(("title", "en")) == Mark(1, 21)


def test_header_comments_and_hash() -> None:
    doc = parse("# yaml-language-server: $schema=x.json\n\n# second\na: 1\n# not header\n")
    assert doc.header_comments == ("# yaml-language-server: $schema=x.json", "# second")
    assert len(doc.sha256) == 64
    assert parse("a: 1\n").sha256 != parse("a: 2\n").sha256


# --- syntax errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, line, column, words", [
    ("a: [1, 2\n", 2, 1, "did not find expected ',' or ']'"),
    ("a: 1\n b: 2\n", 2, 3, "mapping values are not allowed"),
    ("a: b: c\n", 1, 5, "mapping values are not allowed"),
    ("a:\n  - x\n  y: 1\n", 3, 3, "expected '-' indicator"),
    ("a:\n\tb: 1\n", 2, 1, "cannot start any token"),
    ('a: "open\n', 2, 1, "unexpected end of stream"),
    ("a: *nope\n", 1, 4, "undefined alias"),
    ("a: 1\n---\nb: 2\n", 2, 1, "expected a single document"),
])
def test_syntax_errors_carry_line_and_column(text: str, line: int, column: int, words: str) -> None:
    err = refused(text)
    assert err.rule == "yaml-syntax"
    assert (err.line, err.column) == (line, column)
    assert err.message.startswith("YAML syntax error: ") and words in err.message
    assert str(err).startswith(f"defs/x.yaml:{line}:{column}: YAML syntax error")


def test_recursive_alias() -> None:
    err = refused("a: &loop\n  b: *loop\n")
    assert (err.rule, err.message) == ("yaml-syntax", "recursive alias")
    assert err.line == 1
    err = refused("a: &l [*l]\n")
    assert (err.rule, err.line, err.column) == ("yaml-syntax", 1, 4)


def test_shared_alias_is_not_recursive() -> None:
    data = parse("base: &b {status: new}\nstates:\n  x: *b\n  y: *b\n").data
    assert data["states"] == {"x": {"status": "new"}, "y": {"status": "new"}}


def test_unsupported_tag_and_complex_key() -> None:
    err = refused("a: !!binary aGk=\n")
    assert (err.rule, err.line, err.column) == ("yaml-syntax", 1, 4)
    assert "!!binary" in err.message
    err = refused("? [a, b]\n: 1\n")
    assert (err.rule, err.message) == ("yaml-syntax", "mapping keys must be plain values")


def test_control_character() -> None:
    err = refused("a: \x07\n")
    assert err.rule == "yaml-syntax"
    assert err.line == 1


def test_empty_document() -> None:
    assert parse("").data is None
    assert parse("# just a comment\n").data is None


# --- files ---------------------------------------------------------------------------------

def test_load_file(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_text("title: {zh: 事件}\n", encoding="utf-8")
    doc = load_file(f, "processes/a.yaml")
    assert doc.file == "processes/a.yaml"
    assert doc.data == {"title": {"zh": "事件"}}


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_file(f).data == {"a": 1}


def test_non_utf8_file(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes("a: 1\nlabel: café\n".encode("latin-1"))
    with pytest.raises(DefinitionError) as info:
        load_file(f, "codes/latin1.yaml")
    err = info.value
    assert err.rule == "yaml-syntax"
    assert err.file == "codes/latin1.yaml"
    assert err.message == "not UTF-8 text: byte 0xe9 cannot be decoded"
    assert (err.line, err.column) == (2, 11)  # the é, counted in characters


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as info:
        load_file(tmp_path / "nope.yaml", "processes/nope.yaml")
    err = info.value
    assert (err.rule, err.file, err.message) == ("missing-file", "processes/nope.yaml", "file not found")
    assert str(err) == "processes/nope.yaml: file not found"


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as info:
        load_file(tmp_path, "processes")
    assert info.value.rule == "missing-file"
    assert info.value.message.startswith("cannot read file")


# --- durations -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, seconds, business, business_days", [
    ("15m", 900, False, 0),
    ("4h", 4 * 3600, False, 0),
    ("90s", 90, False, 0),
    ("2d", 2 * 86400, False, 0),
    ("1w", 7 * 86400, False, 0),
    ("1h 30m", 5400, False, 0),
    ("1h30m", 5400, False, 0),
    ("30 minutes", 1800, False, 0),
    ("3 business days", 0, True, 3),
    ("1 business day", 0, True, 1),
    ("4 business hours", 4 * 3600, True, 0),
    ("15 business minutes", 900, True, 0),
    ("2 Business Days", 0, True, 2),
    ("1 business day 4 business hours", 4 * 3600, True, 1),
    ("PT4H", 4 * 3600, False, 0),
    ("PT1H30M", 5400, False, 0),
    ("P3D", 3 * 86400, False, 0),
    ("P1W", 7 * 86400, False, 0),
    ("P1DT2H", 26 * 3600, False, 0),
    ("PT45S", 45, False, 0),
    ("  4h  ", 4 * 3600, False, 0),
])
def test_duration_parse(text: str, seconds: int, business: bool, business_days: int) -> None:
    d = Duration.parse(text)
    assert (d.seconds, d.business, d.business_days) == (seconds, business, business_days)
    assert str(d) == text.strip()


@pytest.mark.parametrize("text, words", [
    ("3 parsecs", "unknown unit 'parsecs'"),
    ("", "empty duration"),
    ("   ", "empty duration"),
    ("PT", "cannot read duration"),
    ("P", "cannot read duration"),
    ("2 business weeks", "business weeks are not supported"),
    ("1h 2 business days", "mixes business and calendar time"),
    ("4 business hours 30m", "mixes business and calendar time"),
    ("four hours", "cannot read duration"),
    ("-5m", "cannot read duration"),
    ("4", "cannot read duration"),
    ("1:30", "cannot read duration"),
    ("pt4h", "cannot read duration"),
    ("4h and 5m", "cannot read duration"),
])
def test_duration_parse_refuses(text: str, words: str) -> None:
    with pytest.raises(ValueError) as info:
        Duration.parse(text)
    assert words in str(info.value)
