"""Instructions a lifecycle costs: counted by valgrind, so the figure does not move
with the machine's load.

Wall-clock figures on a shared 2-core machine move by 20-40% from one minute to
the next (docs/BENCHMARKS.md), more than a change of a few percent of an
action's work.  ``valgrind --tool=callgrind`` counts the user-space
instructions a process executes: the same code on the same data gives the same
count within 0.2% (with ``PYTHONHASHSEED=0``, so that dict and set orders do
not vary from one process to the next), whatever else the machine does.  The kernel's part (the
durable commit's fdatasync) is not counted; it is the same for itsm and the
baseline.

- **engine**: the lifecycle of bench/desksize.py (intake, assign, start,
  resolve, confirm_for_user) through ``Api`` on SQLite;
- **baseline**: bench/_raw.py's lifecycle, the same rows written with the
  sqlite3 module and the same durability (what SQLite itself costs);
- **for information**: the engine with its notifications, result view,
  major-incident check, due work and search indexing all replaced by nothing
  (a counterfactual, not a mode of itsm): how much of an action those parts
  are, SQL included.

Each figure is (count after 20 + n lifecycles - count after 20) / n, in millions
of instructions.  Compare two checkouts by running this bench in each; a change
of a few percent in the engine's count is a real change.  Skipped when valgrind
is not installed (``apt-get install valgrind``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bench._util import PYTHON, REPO, Config, Result, skipped, sqlite_url

NAME = "instructions"
WARM_UP = 20
MODES = {
    "engine": "itsm lifecycle (Api, SQLite)",
    "raw": "sqlite3 lifecycle, same rows (bench/_raw.py)",
    "bare": "itsm lifecycle without notify, view, major check, due work, search index",
}


def run(cfg: Config) -> list[Result]:
    if shutil.which("valgrind") is None:
        return [skipped(NAME, "Minstr a lifecycle", "valgrind is not installed (apt-get install valgrind)")]
    n = cfg.pick(30, 100, 200)
    collected(cfg, "engine", 0)  # bytecode and definitions cached, as for every later process
    counts = {mode: per_lifecycle(cfg, mode, n) for mode in MODES}
    raw = counts["raw"]
    out = []
    for mode in ("engine", "bare"):
        out.append(Result(NAME, f"Minstr a lifecycle, {MODES[mode]}", counts[mode], "Minstr",
                          baseline=raw, baseline_name="sqlite3, same rows",
                          note=f"callgrind, user space, {n} lifecycles after {WARM_UP}"))
    out.append(Result(NAME, "Minstr a lifecycle of notify, view, major check, due work, search index",
                      counts["engine"] - counts["bare"], "Minstr", baseline=counts["engine"] - raw,
                      baseline_name="all the engine adds to the sqlite3 lifecycle",
                      note="their SQL included"))
    return out


def per_lifecycle(cfg: Config, mode: str, n: int) -> float:
    """Millions of instructions one lifecycle of ``mode`` costs."""
    before = collected(cfg, mode, 0)
    return (collected(cfg, mode, n) - before) / n / 1e6


def collected(cfg: Config, mode: str, n: int) -> int:
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            PYTHON, "-m", "bench.instructions", mode, str(n), str(cfg.workdir)]
    env = dict(cfg.env(), PYTHONHASHSEED="0")  # the same dict and set orders in every process
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind {mode} {n}: exit {done.returncode}: {done.stderr[-2000:]}")
    return int(found.group(1))


def child(mode: str, n: int, workdir: str) -> None:
    """The measured process: WARM_UP lifecycles, then ``n`` of ``mode``."""
    from bench._raw import RawStore, lifecycle as raw_lifecycle
    from bench._util import open_api
    from bench.desksize import lifecycle, texts

    if mode == "bare":
        import engine.desk.context as context
        import engine.desk.major as major
        import engine.desk.search as search
        import engine.desk.writes as writes

        writes.notify = lambda *a, **k: 0
        writes.refresh_due = lambda *a, **k: []
        major.check = lambda *a, **k: None
        search.index_if_changed = lambda *a, **k: None
        context.Desk.view = lambda self, t: {"key": t.key}
    cfg = Config(workdir=Path(workdir))
    cfg.apply_env()
    db = cfg.scratch(f"instructions-{mode}-{n}-{os.getpid()}.db")
    api = open_api(sqlite_url(db))
    words = iter(texts(n + WARM_UP, start=8_100_000))
    for _ in range(WARM_UP):
        lifecycle(api, *next(words))
    if mode == "raw":
        with api.store.read() as repo:
            version = repo.conn.exec_driver_sql(
                "SELECT version FROM definition_versions WHERE process = 'incident'").scalar()
        raw = RawStore(sqlite_url(db))
        for i in range(n):
            raw_lifecycle(raw, i, version, *next(words))
    else:
        for _ in range(n):
            lifecycle(api, *next(words))


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]), sys.argv[3])
