"""``.itsmlint.yaml``: which rules ``itsm lint`` reports, at which severity, where.

    extends: recommended        # or: all, guidelines
    rules:
      yaml11-trap: error        # a rule id or slug: off, info, warning or error
    overrides:
      - files: [codes/*.yaml]   # globs relative to the folder of .itsmlint.yaml (the repository)
        rules: {Y003: off}

Presets: ``recommended`` (the default) is every rule at its default severity
except the info-level ones a rule module does not recommend; ``all`` is every
rule at its default severity; ``guidelines`` is ``recommended`` with the policy
rules (P…) as errors for every process, as if each declared
``policies: [guidelines]``.  Later settings win: preset, ``rules``, then each
matching override in order.  The file is read by engine/definitions/loader.py like every
definition, so a mistake in it is reported at its line, as a usage error.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from engine.errors import DefinitionError, UsageError
from engine.i18n import N_, message
from engine.lint.finding import Finding
from engine.lint.registry import Rule, all_rules
from engine.definitions.loader import Document, load_file

CONFIG_NAME = ".itsmlint.yaml"
PRESETS = ("recommended", "all", "guidelines")
LEVELS = ("off", "error", "warning", "info")
KEYS = ("extends", "rules", "overrides")
OVERRIDE_KEYS = ("files", "rules")
# findings of ``itsm lint --db`` (engine/desk/migrate.py) and ``--against`` (D003, D004:
# engine/lint/versioning.py); configurable like the others
DB_RULES = {"D001": "stranded-ticket", "D002": "orphaned-field", "D003": "version-not-bumped",
            "D004": "version-went-back"}
POLICY_PREFIX = "P"  # rules that check a policy a process declares (policies: [...])


def _glob(pattern: str) -> re.Pattern[str]:
    """``*`` and ``?`` within one folder, ``**`` across folders."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            c = pattern[i]
            out += "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c)
            i += 1
    return re.compile(out + r"\Z")


@dataclass(frozen=True)
class Override:
    files: tuple[str, ...]
    rules: Mapping[str, str]  # rule id -> level
    patterns: tuple[re.Pattern[str], ...] = ()

    def matches(self, rel: str) -> bool:
        return any(p.match(rel) for p in self.patterns)


@dataclass(frozen=True)
class LintConfig:
    extends: str = "recommended"
    rules: Mapping[str, str] = field(default_factory=dict)  # rule id -> level
    overrides: tuple[Override, ...] = ()
    root: Path | None = None  # globs are relative to it: the repository (None: the current folder)
    path: str | None = None  # the file, as shown in messages; None: the default

    @property
    def policies(self) -> tuple[str, ...]:
        """Policies enforced on every process, declared or not."""
        return ("guidelines",) if self.extends == "guidelines" else ()

    def preset_level(self, rule_id: str, severity: str, recommended: bool) -> str:
        if self.extends == "all":
            return severity
        if self.extends == "guidelines" and rule_id.startswith(POLICY_PREFIX):
            return "error"
        return severity if recommended else "off"

    def level(self, finding: Finding, rules: Mapping[str, Rule]) -> str:
        rule = rules.get(finding.rule)
        level = (self.preset_level(rule.id, rule.severity, rule.recommended) if rule
                 else finding.severity)
        level = self.rules.get(finding.rule, level)
        if self.overrides:
            rel = self._relative(finding.file)
            for o in self.overrides:
                if o.matches(rel):
                    level = o.rules.get(finding.rule, level)
        return level

    def apply(self, findings: list[Finding]) -> list[Finding]:
        """The findings at their configured severity, without those turned off."""
        rules = {r.id: r for r in all_rules()}
        out = []
        for f in findings:
            level = self.level(f, rules)
            if level != "off":
                out.append(f if level == f.severity else replace(f, severity=level))
        return out

    def _relative(self, file: str) -> str:
        path = Path(os.path.abspath(file))
        root = self.root or Path.cwd()
        try:
            return path.relative_to(root.resolve()).as_posix()
        except ValueError:
            return Path(file).as_posix()


def _upward(start: Path) -> list[Path]:
    """``start`` (or its folder) and the folders above it, up to the process repository
    (the folder with processes/ or codes/) or the git work tree, whichever comes first."""
    folder = start.resolve()
    if not folder.is_dir():
        folder = folder.parent
    out = []
    for candidate in (folder, *folder.parents):
        out.append(candidate)
        if any((candidate / marker).exists() for marker in ("processes", "codes", ".git")):
            break
    return out


def find_config(start: Path) -> Path | None:
    """``.itsmlint.yaml`` in ``start`` or a folder above it, up to the repository."""
    return next((f / CONFIG_NAME for f in _upward(start) if (f / CONFIG_NAME).is_file()), None)


def repository_root(start: Path) -> Path:
    """The folder globs of a configuration given with ``--config`` are relative to."""
    return _upward(start)[-1]


def config_for(target: Path, explicit: Path | None = None) -> LintConfig:
    """The configuration for linting ``target``: the file given (its globs relative
    to the repository of ``target``), else the repository's .itsmlint.yaml, else the
    recommended preset."""
    if explicit is not None:
        return replace(load_config(explicit, _shown(explicit)), root=repository_root(target))
    found = find_config(target)
    return load_config(found, _shown(found)) if found else LintConfig()


def _shown(path: Path) -> str:
    from engine.lint.context import display

    return display(path.resolve()) if path.exists() else str(path)


def load_config(path: Path, display: str | None = None) -> LintConfig:
    """Read and check a configuration file; a mistake is a UsageError at its line."""
    name = display or str(path)
    if not path.is_file():
        raise UsageError(N_("{name}: lint configuration not found"), file=name, values={"name": name})
    try:
        doc = load_file(path, name)
    except DefinitionError as exc:
        raise UsageError(N_("{exc}"), file=name, line=exc.line, column=exc.column,
                         values={"exc": exc}) from None
    return _Reader(doc, path.resolve().parent).read()


class _Reader:
    def __init__(self, doc: Document, root: Path) -> None:
        self.doc = doc
        self.root = root
        rules = all_rules()
        self.ids = {r.id for r in rules} | set(DB_RULES)
        self.by_key = ({r.id: r.id for r in rules} | {r.slug: r.id for r in rules}
                       | {k: k for k in DB_RULES} | {v: k for k, v in DB_RULES.items()})

    def fail(self, path: tuple[str | int, ...], problem: str, key: bool = False) -> UsageError:
        mark = self.doc.mark(path, key=key)
        return UsageError(N_("{file}:{line}:{column}: {message}"),
                          file=self.doc.file, line=mark.line, column=mark.column, values={"file": self.doc.file, "line": mark.line, "column": mark.column, "message": message(problem)})

    def read(self) -> LintConfig:
        data = self.doc.data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise self.fail((), message(N_("a lint configuration is a mapping with keys {keys}"),
                                        keys=", ".join(KEYS)))
        self.known_keys(data, (), KEYS)
        extends = data.get("extends", "recommended")
        if extends not in PRESETS:
            raise self.fail(("extends",), message(N_("unknown preset {preset!r}: use one of {presets}"),
                                                  preset=extends, presets=", ".join(PRESETS)))
        rules = self.rules(data.get("rules"), ("rules",))
        raw = data.get("overrides")
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise self.fail(("overrides",), N_("overrides is a list of {files: [...], rules: {...}}"))
        overrides = tuple(self.override(item, ("overrides", i)) for i, item in enumerate(raw))
        return LintConfig(extends, rules, overrides, self.root, self.doc.file)

    def known_keys(self, data: dict[str, Any], path: tuple[str | int, ...],
                   allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(path + (key,), message(N_("unknown key {key!r}: allowed keys are {allowed}"),
                                                      key=key, allowed=", ".join(allowed)), key=True)

    def rules(self, raw: Any, path: tuple[str | int, ...]) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail(path, message(N_("rules is a mapping of rule id or slug to {levels}"),
                                          levels="|".join(LEVELS)))
        out: dict[str, str] = {}
        for key, level in raw.items():
            rule = self.by_key.get(key) or self.by_key.get(key.upper())
            if rule is None:
                raise self.fail(path + (key,), message(N_("unknown rule {key!r}: see docs/lint-rules.md for the rule ids and slugs"),
                                                       key=key), key=True)
            if level not in LEVELS:
                raise self.fail(path + (key,), message(N_("{key}: severity must be one of {levels}, not {level!r}"),
                                                      key=key, levels=", ".join(LEVELS), level=level))
            out[rule] = level
        return out

    def override(self, item: Any, path: tuple[str | int, ...]) -> Override:
        if not isinstance(item, dict):
            raise self.fail(path, N_("an override is a mapping {files: [...], rules: {...}}"))
        self.known_keys(item, path, OVERRIDE_KEYS)
        files = item.get("files")
        if isinstance(files, str):
            files = [files]
        if not files or not isinstance(files, list) or not all(
                isinstance(f, str) and f.strip() for f in files):
            raise self.fail(path + ("files",) if "files" in item else path,
                            N_("an override needs files: a glob or a list of globs (relative to the folder of the configuration)"))
        if "rules" not in item:
            raise self.fail(path, N_("an override needs rules: {ID-or-slug: off|info|warning|error}"))
        rules = self.rules(item.get("rules"), path + ("rules",))
        globs = tuple(f.strip().removeprefix("./") for f in files)
        return Override(globs, rules, tuple(_glob(g) for g in globs))
