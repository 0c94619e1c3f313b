"""cProfile of the slow cases, to find what to fix in the engine.

    .venv/bin/python -m bench.profile action     # Api.do assign on SQLite
    .venv/bin/python -m bench.profile lifecycle  # intake -> ... -> confirm
    .venv/bin/python -m bench.profile tick       # Api.tick, 10,000 open / 100 due
    .venv/bin/python -m bench.profile lint       # lint_paths, generated 1,000 states
    .venv/bin/python -m bench.profile imports    # -X importtime of `itsm show` / `--help`

Prints the top functions by cumulative and by own time; ``--out FILE`` also
saves the raw stats (open with ``python -m pstats FILE`` or snakeviz).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import shutil
import subprocess
import sys
from typing import Any, Callable

from bench._util import AGENT, GROUP, PYTHON, Config, copy_db, itsm_argv, new_incident, open_api, sqlite_url


def _action(cfg: Config) -> Callable[[], Any]:
    from bench.actions import prepare

    template, keys = prepare(cfg, 300)
    db = cfg.scratch("profile-action.db")
    copy_db(template, db)
    api = open_api(sqlite_url(db))
    inputs = {"group": GROUP, "assignee": AGENT}
    api.do(keys[-1], "assign", inputs)
    return lambda: [api.do(k, "assign", inputs) for k in keys[:-1]]


def _lifecycle(cfg: Config) -> Callable[[], Any]:
    from bench.lifecycle import engine_lifecycle

    cfg.apply_env()
    api = open_api(sqlite_url(cfg.scratch("profile-lifecycle.db")))
    engine_lifecycle(api, -1)
    return lambda: [engine_lifecycle(api, i) for i in range(60)]


def _tick(cfg: Config) -> Callable[[], Any]:
    from engine.api import Api

    from bench.tick import NOW, REPO, load

    db = cfg.scratch("profile-tick.db")
    load(cfg, db, 10_000)
    api = Api.open(home=str(REPO), db=sqlite_url(db), user="system", now=NOW.isoformat())
    api.store  # noqa: B018
    return api.tick


def _lint(cfg: Config) -> Callable[[], Any]:
    from engine.lint import lint_paths

    from bench.lint import make_repo

    home = make_repo(cfg, 1000)
    return lambda: lint_paths([home])


CASES = {"action": _action, "lifecycle": _lifecycle, "tick": _tick, "lint": _lint}


def imports(cfg: Config, top: int) -> None:
    """The slowest imports (self and cumulative, microseconds) of two commands."""
    cfg.apply_env()
    api = open_api(sqlite_url(cfg.scratch("profile-imports.db")))
    key = new_incident(api, "imports")
    api.store.close()
    env = dict(cfg.env(), ITSM_DATABASE_URL=sqlite_url(cfg.workdir / "profile-imports.db"), ITSM_USER=AGENT)
    for args in (["--help"], ["show", key]):
        subprocess.run(itsm_argv(*args), env=env, capture_output=True)  # warm the caches
        proc = subprocess.run([PYTHON, "-X", "importtime", *itsm_argv(*args)[1:]]
                              if itsm_argv(*args)[0] == PYTHON else
                              [PYTHON, "-X", "importtime", itsm_argv()[0], *args],
                              env=env, capture_output=True, text=True)
        rows = []
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if m:
                rows.append((int(m.group(2)), int(m.group(1)), len(m.group(3)), m.group(4)))
        total = sum(r[1] for r in rows)
        print(f"\n== itsm {' '.join(args)}: {total / 1000:.0f} ms of imports; top-level packages by "
              "cumulative time ==")
        tops = sorted((r for r in rows if r[2] <= 1), reverse=True)[:top]
        for cum, own, _, name in tops:
            print(f"{cum / 1000:8.1f} ms  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("case", choices=[*CASES, "imports"])
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", metavar="FILE", help="save the raw pstats here")
    args = parser.parse_args(argv)
    cfg = Config()
    try:
        if args.case == "imports":
            imports(cfg, args.top)
            return 0
        call = CASES[args.case](cfg)
        prof = cProfile.Profile()
        prof.enable()
        call()
        prof.disable()
        if args.out:
            prof.dump_stats(args.out)
        for key in ("cumulative", "tottime"):
            buf = io.StringIO()
            stats = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key)
            stats.print_stats(args.top)
            text = buf.getvalue()
            print(f"\n== {args.case}: top {args.top} by {key} ==")
            print(text[text.find("   ncalls"):].rstrip())
    finally:
        shutil.rmtree(cfg.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
