"""Message templates: jinja2 files in processes/templates/<lang>/.

``NAME.txt`` holds the subject on its first line, a blank line, then the plain
body; ``NAME.html`` (optional) is the HTML body, rendered with autoescaping so
ticket data can never inject markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import ItsmError

LANG_FALLBACK = {"zh": "en", "en": "zh"}


class TemplateProblem(ItsmError):
    kind = "template"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


@lru_cache(maxsize=8)
def _env(folder: str) -> Environment:
    return SandboxedEnvironment(loader=FileSystemLoader(folder), undefined=StrictUndefined,
                                autoescape=select_autoescape(["html"]), keep_trailing_newline=True)


def environment(folder: Path) -> Environment:
    """The environment the templates in ``folder`` render with."""
    return _env(str(folder))


def template_dir(home: Path) -> Path:
    return home / "processes" / "templates"


def exists(home: Path, name: str, lang: str) -> bool:
    return (template_dir(home) / lang / f"{name}.txt").is_file()


def render(home: Path, name: str, lang: str, context: Mapping[str, Any]) -> Rendered:
    """Subject, text and HTML of one message, in ``lang`` (else the other language)."""
    root = template_dir(home)
    for candidate in (lang, LANG_FALLBACK.get(lang, "en")):
        folder = root / candidate
        if (folder / f"{name}.txt").is_file():
            break
    else:
        raise TemplateProblem(f"no template '{name}' in {root}/{lang}/")
    env = _env(str(folder))
    try:
        raw = env.get_template(f"{name}.txt").render(**context)
        html = env.get_template(f"{name}.html").render(**context) \
            if (folder / f"{name}.html").is_file() else None
    except TemplateError as exc:
        raise TemplateProblem(f"template {candidate}/{name}: {exc}") from None
    subject, _, body = raw.partition("\n")
    return Rendered(subject.strip(), body.lstrip("\n"), html)
