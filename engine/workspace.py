"""Loading a process repository's definitions once per content.

Where the repository is comes from engine.definitions.home.  Loading
checks the definitions with every lint rule of severity *error* the first time a
content version is seen and caches the built specs by content hash, so ordinary
commands neither re-parse YAML nor re-validate it.

May import: ground, definitions, lint.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from engine import __version__
from engine.definitions.home import definition_files
from engine.errors import DefinitionError
from engine.i18n import N_, message
from engine.model import Definitions


def cache_dir() -> Path:
    env = os.environ.get("ITSM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "itsm"


def content_key(home: Path, files: list[Path]) -> str:
    h = hashlib.sha256(f"itsm {__version__}\n".encode())
    for f in files:
        h.update(f.relative_to(home).as_posix().encode() + b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _read_cache(path: Path) -> Definitions | None:
    try:
        with path.open("rb") as fh:
            value = pickle.load(fh)
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError, TypeError):
        return None
    return value if isinstance(value, Definitions) else None


def _write_cache(path: Path, defs: Definitions) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".defs-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(defs, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs speed


def load_definitions(home: Path, *, use_cache: bool = True) -> Definitions:
    """The definitions of ``home``; refuses definitions with lint errors."""
    files = definition_files(home)
    key = content_key(home, files)
    cached_path = cache_dir() / f"defs-{key}.pickle"
    if use_cache:
        cached = _read_cache(cached_path)
        if cached is not None and cached.home == str(home):
            return cached
    defs = _check_and_build(home)
    if use_cache:
        _write_cache(cached_path, defs)
    return defs


def _check_and_build(home: Path) -> Definitions:
    from engine.lint import lint_paths
    from engine.definitions.specs import build_definitions

    result = lint_paths([home])
    # causes first: a file that does not parse makes other files' references fail
    causes = ("yaml-syntax", "duplicate-key", "schema", "missing-file")
    errors = sorted(result.errors, key=lambda f: (f.slug not in causes, f.file, f.line, f.column))
    if errors:
        first = errors[0]
        more = message(N_(" (and {count} more)"), count=len(errors) - 1) if len(errors) > 1 else ""
        raise DefinitionError(
            N_("[{rule} {slug}] {message}{more}; run 'itsm lint {home}' for all"),
            file=first.file, line=first.line, column=first.column, rule=first.slug, values={"rule": first.rule, "slug": first.slug, "message": first.message, "more": more, "home": home})
    ctx = result.context
    process_docs = {pid: doc for pid, (doc, _) in ctx.processes.items()}
    table_docs = {tid: doc for tid, (doc, _) in ctx.tables.items()}
    return build_definitions(str(home), process_docs, table_docs)
