"""Turning results into text for people or machines: tables, CSV, JSON.

Used by every row-printing command through one set of output options, so
``--json`` and ``--csv`` behave the same everywhere.

CSV is written to be opened in a spreadsheet safely (:func:`csv_field`): a
ticket's title or a person's name is text from outside, and text that begins
like a formula must never run as one.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime

TYPE_CHECKING = False  # typing is not imported at run time (a remote command's --json)
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping, Sequence

    Column = tuple[str, str, Callable[[Mapping[str, Any]], Any]]  # (id, heading, getter)


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"


def cell(value: Any) -> str:
    """A value as a table shows it: yes/no, lists joined, one line."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    return str(value).replace("\n", " ")


def when(value: Any) -> str:
    """A time as people read it: ``2026-12-07 09:20 +08:00``, to the minute, with
    its UTC offset.  ``value``: ISO 8601 text (as the desk gives every time, in
    its display zone) or an aware datetime; text that is no time is shown as it
    is, None as nothing.  The one text form of a time in tables and listings."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        t = value
    elif len(str(value)) <= 10:  # a date alone, or no time at all
        return str(value)
    else:
        try:
            t = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if t.tzinfo is None or t.utcoffset() is None:
        return t.strftime("%Y-%m-%d %H:%M")
    off = t.utcoffset()
    assert off is not None
    minutes = int(off.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{t:%Y-%m-%d %H:%M} {sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def instant(value: Any) -> float:
    """ISO 8601 text with an offset as seconds since the epoch (for ordering
    times written in different zones); text that is no time sorts last."""
    try:
        t = datetime.fromisoformat(str(value))
        return t.timestamp() if t.tzinfo is not None else float("inf")
    except ValueError:
        return float("inf")


def width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, size: int) -> str:
    return text + " " * (size - width(text))


def _clip(text: str, size: int) -> str:
    if width(text) <= size:
        return text
    out, used = "", 0
    for ch in text:
        w = width(ch)
        if used + w > size - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], max_width: int = 48) -> str:
    heads = [h for _, h, _ in columns]
    body = [[_clip(cell(get(r)), max_width) for _, _, get in columns] for r in rows]
    sizes = [max([width(h)] + [width(row[i]) for row in body]) for i, h in enumerate(heads)]
    lines = ["  ".join(_pad(h, sizes[i]) for i, h in enumerate(heads)).rstrip(),
             "  ".join("-" * s for s in sizes)]
    lines += ["  ".join(_pad(c, sizes[i]) for i, c in enumerate(row)).rstrip() for row in body]
    return "\n".join(lines) + "\n"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what Excel, LibreOffice, Google Sheets evaluate


def csv_field(value: Any) -> str:
    """One CSV field (RFC 4180), neutralised as OWASP recommends against CSV
    injection: text that begins with ``= + - @``, a tab or a carriage return
    gets a leading ``'`` (the spreadsheet shows text, never runs a formula) and
    double quotes, so that no separator inside it starts a cell either, as does
    any text with ``;`` (the separator of many locales); numbers are written as
    they are (``-3`` is a number, not a formula)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    quote = text.startswith(FORMULA_START)
    if quote:
        text = "'" + text
    if quote or any(c in text for c in ',";\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(values: Sequence[Any]) -> str:
    return ",".join(csv_field(v) for v in values) + "\n"


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    def value(v: Any) -> Any:
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else cell(v)

    lines = [csv_line([cid for cid, _, _ in columns])]
    lines += [csv_line([value(get(r)) for _, _, get in columns]) for r in rows]
    return "".join(lines)


def pairs(items: Sequence[tuple[str, Any]]) -> str:
    """A label: value block."""
    items = [(k, cell(v)) for k, v in items if v not in (None, "", [], {})]
    size = max((width(k) for k, _ in items), default=0)
    return "".join(f"{_pad(k, size)}  {v}\n" for k, v in items)
