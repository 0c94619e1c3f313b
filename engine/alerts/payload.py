"""Monitoring payloads -> alerts: the pure parser of ``itsm intake`` and the
alert endpoint.

Two formats are read:

- a Prometheus Alertmanager webhook (version 4): ``{"version": "4", "groupKey":
  ..., "status": ..., "alerts": [{"status", "labels", "annotations", "startsAt",
  "endsAt", "generatorURL", "fingerprint"}, ...]}``;
- a generic JSON event, or a list of them: ``{"source", "fingerprint" (or
  "dedup_key"), "status": "firing" | "resolved", "summary", "description",
  "labels", "annotations", "severity", "service", "time", "url"}``.

The whole payload is checked before anything is written: a malformed payload
raises :class:`PayloadError` (exit 2, HTTP 400) naming the offending place,
e.g. ``alerts[3].labels.severity: expected a string, got a list``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.errors import UsageError
from engine.i18n import N_, json_problem, message
from engine.limits import nested_deeper_than, nul_at

FORMATS = ("auto", "alertmanager", "event")
STATUSES = ("firing", "resolved")
MAX_SOURCE = 64
MAX_FINGERPRINT = 200
MAX_ALERTS = 100_000  # per payload; Alertmanager sends far fewer (max_alerts)
MAX_DEPTH = 32  # objects and lists inside each other; a webhook needs 4


class PayloadError(UsageError):
    """A monitoring payload that cannot be read; nothing of it was written."""

    kind = "payload"

    def __init__(self, text: str, path: str | None = None,
                 values: Mapping[str, Any] | None = None) -> None:
        if path:  # the path, then the message said in the reader's language
            values = {"path": path, "message": message(text, **(values or {}))}
            text = "{path}: {message}"
        super().__init__(text, values, path=path)
        self.path = path


@dataclass(frozen=True)
class Alert:
    """One alert, whatever format it came in."""

    source: str
    fingerprint: str
    status: str  # firing | resolved
    summary: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    starts_at: str | None = None  # ISO 8601 as sent
    ends_at: str | None = None
    url: str | None = None
    group_key: str | None = None

    def record(self) -> dict[str, Any]:
        """What the alert group keeps as its last payload (JSON)."""
        out = {"source": self.source, "fingerprint": self.fingerprint, "status": self.status,
               "summary": self.summary, "labels": dict(self.labels),
               "annotations": dict(self.annotations), "starts_at": self.starts_at,
               "ends_at": self.ends_at, "url": self.url, "group_key": self.group_key}
        return {k: v for k, v in out.items() if v not in (None, {}, "")}


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def decode(text: str | bytes) -> Any:
    """JSON text -> data, with the line and column of a syntax error; nesting
    deeper than MAX_DEPTH and integers of over 4300 digits are refused too."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError(N_("not UTF-8 text (byte {start})"), values={"start": exc.start}) from None
    if not text.strip():
        raise PayloadError(N_("the payload is empty: expected a JSON object"))
    too_deep = message(N_("the payload is nested too deeply: at most {depth} levels of objects and lists"),
                       depth=MAX_DEPTH)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(N_("not valid JSON: {msg} at line {lineno}, column {colno}"),
                           values={"msg": json_problem(exc.msg), "lineno": exc.lineno, "colno": exc.colno}) from None
    except RecursionError:
        raise PayloadError(too_deep) from None
    except ValueError:  # int() of more than 4300 digits
        raise PayloadError(N_("not valid JSON: a number has too many digits")) from None
    if nested_deeper_than(data, MAX_DEPTH):
        raise PayloadError(too_deep)
    nul = nul_at(data, "")
    if nul is not None:  # refused whole, before any alert group is written
        raise PayloadError(N_("contains a NUL character"), nul or None)
    return data


def detect(payload: Any) -> str:
    """'alertmanager' for a webhook with an alerts list, else 'event'."""
    if isinstance(payload, dict) and "alerts" in payload:
        return "alertmanager"
    return "event"


def parse(payload: Any, fmt: str = "auto", source: str | None = None) -> list[Alert]:
    """Every alert of ``payload`` (JSON text or decoded data), checked.

    ``source`` names the monitoring system for Alertmanager payloads (default
    'alertmanager') and is the default source of events that name none."""
    if fmt not in FORMATS:
        raise UsageError(N_("unknown payload format {fmt!r}; use one of {FORMATS}"),
                         values={"fmt": fmt, "FORMATS": ', '.join(FORMATS)})
    if isinstance(payload, (str, bytes)):
        payload = decode(payload)
    if source is not None:
        source = _source(source, "--source")
    kind = detect(payload) if fmt == "auto" else fmt
    alerts = _alertmanager(payload, source or "alertmanager") if kind == "alertmanager" \
        else _events(payload, source)
    if len(alerts) > MAX_ALERTS:
        raise PayloadError(N_("{count} alerts in one payload; at most {MAX_ALERTS}: split it"),
                           values={"count": len(alerts), "MAX_ALERTS": MAX_ALERTS})
    return alerts


# -- Alertmanager ----------------------------------------------------------------------------

def _alertmanager(payload: Any, source: str) -> list[Alert]:
    if not isinstance(payload, dict):
        raise PayloadError(N_("expected an Alertmanager webhook (a JSON object with 'alerts'), got {type}"),
                           values={"type": _type(payload)})
    version = payload.get("version")
    if version is not None and str(version) != "4":
        raise PayloadError(N_("Alertmanager webhook version {version!r} is not supported (expected '4')"),
                           "version", values={"version": version})
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError(N_("expected a list of alerts, got {type}"), "alerts",
                           values={"type": _type(alerts)})
    group_key = _opt_str(payload, "groupKey", "groupKey")
    default_status = payload.get("status") if payload.get("status") in STATUSES else None
    common = _strings(payload.get("commonAnnotations"), "commonAnnotations")
    out = []
    for i, raw in enumerate(alerts):
        where = f"alerts[{i}]"
        if not isinstance(raw, dict):
            raise PayloadError(N_("expected an alert object, got {type}"), where, values={"type": _type(raw)})
        labels = _strings(raw.get("labels"), f"{where}.labels", required=True)
        annotations = {**common, **_strings(raw.get("annotations"), f"{where}.annotations")}
        status = _status(raw.get("status", default_status), f"{where}.status")
        fingerprint = _opt_str(raw, "fingerprint", f"{where}.fingerprint") or labels_fingerprint(labels)
        summary = (annotations.get("summary") or annotations.get("message")
                   or _first_line(annotations.get("description")) or labels.get("alertname")
                   or f"alert {fingerprint}")
        out.append(Alert(
            source=source, fingerprint=_fingerprint(fingerprint, f"{where}.fingerprint"),
            status=status, summary=summary[:500], labels=labels, annotations=annotations,
            description=annotations.get("description"),
            starts_at=_time(raw, "startsAt", f"{where}.startsAt"),
            ends_at=_time(raw, "endsAt", f"{where}.endsAt") if status == "resolved" else None,
            url=_opt_str(raw, "generatorURL", f"{where}.generatorURL"), group_key=group_key))
    return out


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable fingerprint of a label set (for alerts sent without one)."""
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


# -- generic events ----------------------------------------------------------------------------

def _events(payload: Any, source: str | None) -> list[Alert]:
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        items, prefix = payload["events"], "events"
    elif isinstance(payload, list):
        items, prefix = payload, ""
    elif isinstance(payload, dict):
        return [_event(payload, "", source)]
    else:
        raise PayloadError(N_("expected an event (a JSON object) or a list of events, got {type}"),
                           values={"type": _type(payload)})
    return [_event(e, f"{prefix}[{i}]", source) for i, e in enumerate(items)]


def _event(raw: Any, where: str, default_source: str | None) -> Alert:
    at = (lambda key: f"{where}.{key}" if where else key)
    if not isinstance(raw, dict):
        raise PayloadError(N_("expected an event object, got {type}"), where or None,
                           values={"type": _type(raw)})
    src = _opt_str(raw, "source", at("source")) or default_source
    if not src:
        raise PayloadError(N_("an event needs 'source': the monitoring system that sent it (or give --source)"), at("source"))
    fp = _opt_str(raw, "fingerprint", at("fingerprint")) or _opt_str(raw, "dedup_key", at("dedup_key"))
    if not fp:
        raise PayloadError(N_("an event needs 'fingerprint' (or 'dedup_key'): the same value for every event "
                              "of one problem"), at("fingerprint"))
    summary = _opt_str(raw, "summary", at("summary"))
    if not summary or not summary.strip():
        raise PayloadError(N_("an event needs 'summary': one line saying what is wrong"), at("summary"))
    labels = _strings(raw.get("labels"), at("labels"))
    for key in ("severity", "service"):  # shortcuts, so rules match them as labels
        value = _opt_str(raw, key, at(key))
        if value and key not in labels:
            labels[key] = value
    return Alert(
        source=_source(src, at("source")), fingerprint=_fingerprint(fp, at("fingerprint")),
        status=_status(raw.get("status", "firing"), at("status")), summary=summary.strip()[:500],
        labels=labels, annotations=_strings(raw.get("annotations"), at("annotations")),
        description=_opt_str(raw, "description", at("description")),
        starts_at=_time(raw, "time", at("time")), url=_opt_str(raw, "url", at("url")))


# -- checks ------------------------------------------------------------------------------------

def _opt_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PayloadError(N_("expected a string, got {type}"), where, values={"type": _type(value)})
    return str(value)


def _strings(value: Any, where: str, required: bool = False) -> dict[str, str]:
    """A label or annotation set: an object of strings (numbers and booleans are
    accepted and turned into text, as monitoring tools are not always strict)."""
    if value is None:
        if required:
            raise PayloadError(N_("missing: every alert needs its labels"), where)
        return {}
    if not isinstance(value, dict):
        raise PayloadError(N_("expected an object of strings, got {type}"), where,
                           values={"type": _type(value)})
    out = {}
    for k, v in value.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (int, float)):
            v = str(v)
        elif not isinstance(v, str):
            raise PayloadError(N_("expected a string, got {type}"), f"{where}.{k}", values={"type": _type(v)})
        out[str(k)] = v
    return out


def _status(value: Any, where: str) -> str:
    if value not in STATUSES:
        raise PayloadError(N_("expected 'firing' or 'resolved', got {value}"), where,
                           values={"value": json.dumps(value)})
    return str(value)


def _source(value: str, where: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_SOURCE:
        raise PayloadError(N_("a source is 1 to {MAX_SOURCE} characters"), where,
                           values={"MAX_SOURCE": MAX_SOURCE})
    return value


def _fingerprint(value: str, where: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_FINGERPRINT:
        raise PayloadError(N_("a fingerprint is 1 to {MAX_FINGERPRINT} characters"), where,
                           values={"MAX_FINGERPRINT": MAX_FINGERPRINT})
    return value


def _time(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    """An ISO 8601 time as sent; Go's zero time (Alertmanager's 'no end') is None."""
    text = _opt_str(raw, key, where)
    if not text or text.startswith("0001-01-01"):
        return None
    try:
        value = datetime.fromisoformat(_trim_fraction(text.replace("Z", "+00:00")))
    except ValueError:
        raise PayloadError(N_("expected an ISO 8601 time, got {text!r}"), where,
                           values={"text": text}) from None
    return value.isoformat()


def _trim_fraction(text: str) -> str:
    """Go sends nanoseconds; Python reads at most microseconds."""
    head, dot, rest = text.partition(".")
    if not dot:
        return text
    digits = len(rest) - len(rest.lstrip("0123456789"))
    return f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0] if text and text.strip() else None
