"""CLI start-up: the wall time of whole ``itsm`` processes.

- ``itsm --help`` and ``itsm --version`` against ``python -c pass``: within 3x
  (issue #25: the console script's fast path, entry.py, prints them without
  importing click); for information, ``itsm --help`` against ``python -c
  "import click"``, which alone costs about 3x a bare Python.
- ``itsm show KEY`` and ``itsm do KEY assign`` on SQLite against a bare
  ``python -c "import sqlalchemy, click, yaml, transitions"`` (the imports such a
  command cannot avoid): within 1.5x.

Definitions are cached (one warm-up run each), as on an agent's machine.
"""

from __future__ import annotations

from bench._util import (
    AGENT, GROUP, PYTHON, Config, Result, median, new_incident, open_api, paired, ratio_at_most,
    run_wall, itsm_argv, sqlite_url,
)

NAME = "startup"
IMPORTS = "import sqlalchemy, click, yaml, transitions"


def run(cfg: Config) -> list[Result]:
    env = cfg.env()
    reps = cfg.pick(9, 15, 25)
    pass_argv = [PYTHON, "-c", "pass"]
    import_argv = [PYTHON, "-c", IMPORTS]
    results = []

    for args in (["--help"], ["--version"]):
        figs, bases = paired(lambda a=args: run_wall(itsm_argv(*a), env),
                             lambda: run_wall(pass_argv, env), reps)
        results.append(_result(f"itsm {' '.join(args)}", figs, bases, "python -c pass", 3.0))
    # the floor: click itself (allowed on the path); on a loaded machine it alone can pass 3x
    figs, bases = paired(lambda: run_wall(itsm_argv("--help"), env),
                         lambda: run_wall([PYTHON, "-c", "import click"], env), reps)
    results.append(_info("itsm --help", figs, bases, "python -c 'import click'"))

    db = cfg.scratch("startup.db")
    url = sqlite_url(db)
    cfg.apply_env()
    api = open_api(url)
    keys = [new_incident(api, f"Start-up {i}") for i in range(reps + 1)]
    api.store.close()
    db_env = dict(env, ITSM_DATABASE_URL=url, ITSM_USER=AGENT)

    show = iter(keys * 2)
    figs, bases = paired(lambda: run_wall(itsm_argv("show", next(show)), db_env),
                         lambda: run_wall(import_argv, env), reps)
    results.append(_result("itsm show KEY (SQLite)", figs, bases, "import sqlalchemy,click,yaml,transitions", 1.5))

    do = iter(keys * 2)  # each ticket is assigned at most twice
    figs, bases = paired(lambda: run_wall(itsm_argv("do", next(do), "assign", "--set", f"group={GROUP}",
                                                    "--set", f"assignee={AGENT}"), db_env),
                         lambda: run_wall(import_argv, env), reps)
    results.append(_result("itsm do KEY assign (SQLite)", figs, bases,
                           "import sqlalchemy,click,yaml,transitions", 1.5))
    return results


def _info(name: str, figs: list[float], bases: list[float], base_name: str) -> Result:
    return Result(NAME, f"{name} (vs click)", median(figs) * 1000, "ms", median(bases) * 1000, base_name,
                  samples=[round(f * 1000, 2) for f in figs],
                  baseline_samples=[round(b * 1000, 2) for b in bases])


def _result(name: str, figs: list[float], bases: list[float], base_name: str, limit: float) -> Result:
    r = Result(NAME, name, median(figs) * 1000, "ms", median(bases) * 1000, base_name,
               samples=[round(f * 1000, 2) for f in figs],
               baseline_samples=[round(b * 1000, 2) for b in bases])
    return ratio_at_most(r, limit)

