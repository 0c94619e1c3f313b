"""Shared helpers of the benchmarks: timing, subprocesses, results, scratch databases.

Every figure is measured next to a baseline in the same run, alternating the
two so that a noisy neighbour hurts both alike, and reported as the median of
several repetitions together with the ratio figure / baseline.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
AGENT = "bench.agent"
AGENT_EMAIL = "bench.agent@example.com"
GROUP = "desktop_support"
REPORTER = "bench.reporter@example.com"
RESOLVE = {"solution": "Replaced the cable", "closure_code": "solved", "service_restored": "true"}
# The agent closes with a desk confirmation: the user's own ``confirm`` needs the
# reporter role, which the bench agent does not hold.
CONFIRM_FOR_USER = {"confirmed_via": "phone", "confirmation_note": "The user confirmed on the phone"}
BENCH_AUDIT_KEY = "bench:YmVuY2htYXJrcycgam91cm5hbCBrZXksIDMyIGJ5dGVz"  # the journal's HMAC key (32 bytes)


# --- configuration of one run ------------------------------------------------------

@dataclass
class Config:
    quick: bool = False
    full: bool = False
    reps: int = 5  # repetitions of each paired measurement
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="itsm-bench-")))
    pg_url: str | None = None
    keep: bool = False
    # Request Tracker's Perl library (bench/rt.py); "none": run as if RT were not installed
    rt_lib: str = field(default_factory=lambda: os.environ.get("ITSM_BENCH_RT_LIB")
                        or "/usr/share/request-tracker5/lib")

    def pick(self, quick: Any, normal: Any, full: Any | None = None) -> Any:
        if self.quick:
            return quick
        if self.full and full is not None:
            return full
        return normal

    def scratch(self, name: str) -> Path:
        path = self.workdir / name
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return path

    def env(self) -> dict[str, str]:
        """The environment of every itsm process of the run: no developer setting
        leaks in, definitions are cached in the run's own folder, and so is
        bytecode (as an installed itsm has its .pyc files, even where the
        shell sets PYTHONDONTWRITEBYTECODE), outside the work tree."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ITSM_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(ITSM_CACHE_DIR=str(self.workdir / "cache"), XDG_DATA_HOME=str(self.workdir / "xdg"),
                   ITSM_HOME=str(REPO), ITSM_TZ="UTC", ITSM_AUDIT_KEY=BENCH_AUDIT_KEY,
                   PYTHONPYCACHEPREFIX=str(self.workdir / "pycache"))
        return env

    def apply_env(self) -> None:
        """The same environment for the benchmarks that run in this process."""
        for k in [k for k in os.environ if k.startswith("ITSM_")]:
            del os.environ[k]
        os.environ.update({k: v for k, v in self.env().items() if k.startswith(("ITSM_", "XDG_"))})


# --- results ---------------------------------------------------------------------------

@dataclass
class Result:
    group: str
    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""  # as printed, e.g. "<= 3x", ">= 0.5x", "< 1 s"
    ok: bool | None = None  # None: no target (information) or skipped
    skipped: bool = False
    crashed: bool = False
    note: str = ""
    samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def status(self) -> str:
        if self.crashed:
            return "ERROR"
        if self.skipped:
            return "SKIP"
        if self.ok is None:
            return "info"
        return "PASS" if self.ok else "MISS"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = self.ratio
        out["status"] = self.status
        return out


def ratio_at_most(r: Result, limit: float) -> Result:
    r.target = f"<= {limit:g}x"
    r.ok = r.ratio is not None and r.ratio <= limit
    return r


def ratio_at_least(r: Result, limit: float) -> Result:
    r.target = f">= {limit:g}x"
    r.ok = r.ratio is not None and r.ratio >= limit
    return r


def value_below(r: Result, limit: float) -> Result:
    r.target = f"< {limit:g} {r.unit}"
    r.ok = r.value is not None and r.value < limit
    return r


def skipped(group: str, name: str, why: str) -> Result:
    return Result(group, name, None, "", skipped=True, note=why)


# --- timing ----------------------------------------------------------------------------

def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes (time.perf_counter)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired(figure: Callable[[], float], baseline: Callable[[], float], reps: int,
           warmup: bool = True) -> tuple[list[float], list[float]]:
    """Samples of two measurements taken alternately (baseline first), after one
    unrecorded warm-up of each.  Each callable returns its own measurement."""
    if warmup:
        baseline()
        figure()
    figs: list[float] = []
    bases: list[float] = []
    for _ in range(reps):
        bases.append(baseline())
        figs.append(figure())
    return figs, bases


def run_wall(argv: Sequence[str], env: dict[str, str], cwd: Path | None = None,
             check: bool = True) -> float:
    """Wall-clock seconds of one subprocess, output discarded."""
    start = time.perf_counter()
    proc = subprocess.run(list(argv), env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return elapsed


def itsm_argv(*args: str) -> list[str]:
    """The installed ``itsm`` console script, as an agent runs it."""
    script = Path(PYTHON).parent / "itsm"
    if script.exists():
        return [str(script), *args]
    return [PYTHON, "-c", "import sys, cli; sys.exit(cli.main())", *args]


# --- scratch databases -------------------------------------------------------------------

def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def copy_db(source: Path, target: Path) -> float:
    """Copy a cached database for a run to write into, and wait until the copy is
    on disk (seconds taken).  Without the fsync the kernel writes the copy back
    while the figures are taken: a desk of a million tickets is 3.4 GB, whose
    writeback made every durable commit of the first samples wait behind it
    (itsm's five a lifecycle and RT's 44 alike, so the ratio moved by 10-20%)."""
    started = time.perf_counter()
    shutil.copyfile(source, target)
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - started


def reset_postgres(url: str) -> None:
    """Drop every itsm table of the (throwaway) database named by ``url``."""
    from engine.store.db import make_engine
    from engine.store.schema import metadata

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    finally:
        engine.dispose()


def open_api(url: str, now: str | None = None, user: str = AGENT) -> Any:
    """An ``Api`` on ``url`` with the bench agent registered (once)."""
    from engine.api import Api

    api = Api.open(home=str(REPO), db=url, user=user, now=now)
    with api.store.write() as repo:  # a write: a new SQLite file is created (a read never creates one)
        known = repo.find_person(AGENT) is not None
    if not known:
        api.add_user(AGENT, "Bench Agent", AGENT_EMAIL, None, ["service_desk", "incident_manager"],
                     [GROUP], "head_office")
    return api


def new_incident(api: Any, title: str) -> str:
    return api.new_ticket("incident", {"title": title, "reporter": REPORTER})["key"]


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "ms" or abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()
