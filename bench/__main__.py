"""Run every benchmark of itsm, print a table, write JSON.

    .venv/bin/python -m bench            # the normal run
    .venv/bin/python -m bench --quick    # a short run (under 5 minutes on 2 cores)
    .venv/bin/python -m bench --full     # more repetitions, 8 agent processes
    .venv/bin/python -m bench --only startup,lint --json out.json --markdown out.md

Every figure is printed next to a baseline measured in the same run (medians of
several repetitions, taken alternately), with the ratio figure / baseline, the
target and PASS / MISS ("info" where the issue sets no target, SKIP where a
backend is not configured or Request Tracker, the comparison of bench/rt.py,
is not installed).  PostgreSQL runs when ITSM_BENCH_DATABASE_URL names a
throwaway database (bench/pg.sh starts one); its itsm tables are dropped.
The exit status is 0 unless a benchmark crashed: a missed target is a finding
of the report, not an error of the run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench._util import Config, Result, fmt

BENCHMARKS = ("startup", "remote", "actions", "lifecycle", "journals", "tick", "lint", "concurrency", "search",
              "intake", "desksize", "rt", "reports", "audit", "console", "instructions")


def machine(pg_url: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "loadavg_at_start": os.getloadavg(),
                            "platform": platform.platform(),
                            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                            "interpreter": interpreter()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        import sqlalchemy

        info["sqlalchemy"] = sqlalchemy.__version__
        import transitions

        info["transitions"] = transitions.__version__
        import psycopg

        info["psycopg"] = psycopg.__version__
    except ImportError:
        pass
    from engine import __version__

    info["itsm"] = __version__
    try:
        git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True,  # noqa: E731
                                        cwd=Path(__file__).parent).stdout
        info["commit"] = git("rev-parse", "--short", "HEAD").strip() or None
        changed = [line[3:] for line in git("status", "--porcelain").splitlines()
                   if not line[3:].startswith("bench/")]
        info["uncommitted_changes"] = changed  # outside bench/: the figures are of this tree
    except OSError:
        pass
    if pg_url:
        try:
            import psycopg

            dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(dsn) as conn:
                info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
                info["postgresql_settings"] = {
                    k: conn.execute(f"SHOW {k}").fetchone()[0]
                    for k in ("fsync", "synchronous_commit", "shared_buffers")}
        except Exception as exc:  # noqa: BLE001 - reported, then the PG benchmarks fail loudly
            info["postgresql"] = f"unreachable: {exc}"
    return info


def interpreter() -> dict[str, Any]:
    """Which build of Python runs the figures: the same code ran 5-9% faster on
    Debian's /usr/bin/python3.11 than on a pyenv build with a shared libpython and
    no --enable-optimizations (docs/BENCHMARKS.md, "The interpreter")."""
    import sysconfig

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        maps = ""
    config = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    return {"executable": sys.executable, "prefix": sys.base_prefix,
            "libpython": ("shared" if "libpython3" in maps else "static") if maps else "?",
            "optimizations": [flag for flag in ("--enable-optimizations", "--with-lto") if flag in config]}


COLUMNS = ("Benchmark", "Figure", "Baseline", "Ratio", "Target", "Result")


def rows(results: list[Result]) -> list[tuple[str, ...]]:
    out = []
    for r in results:
        base = f"{fmt(r.baseline, r.unit)} ({r.baseline_name})" if r.baseline is not None else r.baseline_name
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        out.append((f"{r.group}: {r.name}", fmt(r.value, r.unit) if not r.skipped else "-", base, ratio,
                    r.target or "-", r.status + (f" ({r.note})" if r.note else "")))
    return out


def text_table(results: list[Result]) -> str:
    body = rows(results)
    widths = [max(len(c), *(len(r[i]) for r in body)) if body else len(c) for i, c in enumerate(COLUMNS)]
    widths[-1] = len(COLUMNS[-1])
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(COLUMNS), line(tuple("-" * w for w in widths))]
    out += [line(r) for r in body]
    return "\n".join(out)


def markdown_table(results: list[Result]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows(results):
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a short run (fewer repetitions, 10,000-ticket tick)")
    mode.add_argument("--full", action="store_true", help="more repetitions, 8 agent processes")
    parser.add_argument("--only", metavar="NAMES", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--json", metavar="PATH", default="bench-results.json",
                        help="where to write the results (default: bench-results.json)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the table as Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (databases, repos)")
    args = parser.parse_args(argv)

    names = BENCHMARKS if not args.only else tuple(n.strip() for n in args.only.split(",") if n.strip())
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    pg_url = os.environ.get("ITSM_BENCH_DATABASE_URL") or None
    cfg = Config(quick=args.quick, full=args.full, pg_url=pg_url, keep=args.keep)
    mode_name = "quick" if args.quick else "full" if args.full else "normal"
    info = machine(pg_url)
    print(f"itsm benchmarks ({mode_name}): {info.get('cpu', '?')}, {info['nproc']} CPUs, "
          f"{info.get('ram_gib', '?')} GiB; Python {info['python']} ({info['interpreter']['prefix']}, "
          f"libpython {info['interpreter']['libpython']}), SQLite {info['sqlite']}, "
          f"PostgreSQL {info.get('postgresql', '- (ITSM_BENCH_DATABASE_URL not set: skipped)')}", flush=True)
    print(f"commit {info.get('commit')}"
          + (f" + {len(info['uncommitted_changes'])} uncommitted change(s)" if info.get("uncommitted_changes")
             else ""), flush=True)
    print(f"scratch folder: {cfg.workdir}", flush=True)

    results: list[Result] = []
    crashed: list[str] = []
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        print(f"-- {name} ...", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            got = module.run(cfg)
        except Exception:  # noqa: BLE001 - one broken benchmark does not hide the others
            crashed.append(name)
            print(traceback.format_exc(), file=sys.stderr, flush=True)
            got = [Result(name, "(crashed)", None, "", crashed=True, note="traceback on stderr")]
        timings[name] = round(time.perf_counter() - t0, 1)
        results.extend(got)
        print(text_table(got), flush=True)
        print(f"   ({timings[name]} s)", flush=True)
    total = round(time.perf_counter() - started, 1)

    print(f"\n== itsm benchmarks, {mode_name} run, {total} s; load average at start "
          f"{info['loadavg_at_start'][0]:.2f}, now {os.getloadavg()[0]:.2f} ==")
    print(text_table(results))
    missed = [r for r in results if r.ok is False]
    print(f"\n{sum(r.ok is True for r in results)} target(s) met, {len(missed)} missed, "
          f"{sum(r.skipped for r in results)} skipped, {sum(r.ok is None and not r.skipped for r in results)} "
          "without target")

    info["loadavg_at_end"] = os.getloadavg()  # other work on the machine shows here
    report = {"created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "mode": mode_name,
              "argv": sys.argv[1:], "machine": info, "seconds": total, "benchmark_seconds": timings,
              "crashed": crashed, "results": [r.to_json() for r in results]}
    Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(results) + "\n", encoding="utf-8")
        print(f"wrote {args.markdown}")
    if not args.keep:
        shutil.rmtree(cfg.workdir, ignore_errors=True)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
