"""Render findings: text (path:line:col: severity [ID slug] message) and JSON."""

from __future__ import annotations

import json
from typing import Callable

from engine.lint.finding import Finding


def text(findings: list[Finding]) -> str:
    lines = [f"{f.file}:{f.line}:{f.column}: {f.severity} [{f.rule} {f.slug}] {f.message}"
             for f in findings]
    return "\n".join(lines) + ("\n" if lines else "")


def as_json(findings: list[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2) + "\n"


def github(findings: list[Finding]) -> str:
    level = {"error": "error", "warning": "warning", "info": "notice"}
    lines = [f"::{level[f.severity]} file={f.file},line={f.line},col={f.column},"
             f"title={f.rule} {f.slug}::{f.message}" for f in findings]
    return "\n".join(lines) + ("\n" if lines else "")


FORMATS: dict[str, Callable[[list[Finding]], str]] = {"text": text, "json": as_json, "github": github}
