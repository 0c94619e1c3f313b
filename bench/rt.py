"""Request Tracker 5 measured in the same run (issue #25): lifecycles per second
of RT with its default mail scrips and with them off, next to itsm's.

RT is the open-source ticket system issue #25 compares against ("lifecycles/s
at 1M tickets >= 20x RT's with its mail scrips off").  Absolute figures on the
bench machine move several-fold with the disk's fsync latency from one day to
the next, so RT is run here, in the same run, not quoted from a constant.

Prerequisite (not installed by CI: benchmarks do not run there)::

    apt-get install --no-install-recommends request-tracker5 rt5-db-sqlite msmtp-mta

(msmtp-mta satisfies RT's mail-transport-agent dependency without a daemon;
no web server either.)  Without it every RT figure is SKIP with that command.
``ITSM_BENCH_RT_LIB`` names RT's Perl library folder (default
/usr/share/request-tracker5/lib); ``ITSM_BENCH_RT_LIB=none`` runs as if RT
were not installed.

Each RT instance is a throwaway: its own RT_SiteConfig.pm (``RT_SITE_CONFIG``,
and ``RT_SITE_CONFIG_DIR`` an empty folder so /etc/request-tracker5 is not
read), SQLite (RT's default settings: rollback journal, synchronous FULL), the
database made by ``rt-setup-database --action init`` and then
``bench/rt_lifecycle.pl setup`` (the agent, the requestor, a "Confirmed via"
custom field; mail-off disables the scrips that send mail).  The initialised
databases are cached in the bench cache (a few hundred KB; key: RT's version,
the Perl script, the site config) and copied to the scratch folder per run.
``$MailCommand`` is 'testfile': mail goes to a temporary file in the scratch
folder, never off the machine.

``bench/rt_lifecycle.pl serve`` runs RT's lifecycles through its Perl API in
one long-lived process per instance (as itsm's run in this process through
``Api``): Create (subject, description, requestor) -> SetOwner -> SetStatus
open -> Comment (the solution) + SetStatus resolved -> custom field "Confirmed
via" (RT's default lifecycle ends at resolved).  The timing is taken inside
Perl, around the lifecycles only.  RT's lifecycles take ten times as long as
itsm's, so an RT sample holds fewer of them (sized from the warm-up's rates):
RT's and itsm's samples, taken alternately, last about as long, and a noisy
neighbour meets both alike.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

from bench._util import REPO, Config, Result, copy_db, median, open_api, skipped, sqlite_url

NAME = "rt"
INSTALL = "apt-get install --no-install-recommends request-tracker5 rt5-db-sqlite msmtp-mta"
PERL = "/usr/bin/perl"
SETUP_DATABASE = "/usr/sbin/rt-setup-database"
SCRIPT = REPO / "bench" / "rt_lifecycle.pl"
MODES = ("mail-on", "mail-off")
LABEL = {"mail-on": "RT 5, default mail scrips", "mail-off": "RT 5, mail scrips off"}

SITE_CONFIG = """\
Set($rtname, 'bench.example');
Set($Organization, 'bench.example');
Set($CorrespondAddress, 'rt@bench.example');
Set($CommentAddress, 'rt-comment@bench.example');
Set($WebDomain, 'localhost');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '{db}');
Set($MailCommand, 'testfile');
Set($LogToSyslog, undef);
Set($LogToFile, undef);
Set($LogToSTDERR, 'error');
Set($Timezone, 'UTC');
1;
"""


def missing(cfg: Config) -> str | None:
    """Why RT cannot run here (a sentence with the install command), or None."""
    lib = Path(cfg.rt_lib)
    if cfg.rt_lib == "none":
        return f"Request Tracker 5 switched off (ITSM_BENCH_RT_LIB=none); to install it: {INSTALL}"
    if not (lib / "RT.pm").is_file():
        return f"Request Tracker 5 not installed ({lib}/RT.pm missing): {INSTALL}"
    for tool in (PERL, SETUP_DATABASE):
        if not Path(tool).is_file():
            return f"{tool} missing: {INSTALL}"
    return None


def version(cfg: Config) -> str:
    generated = Path(cfg.rt_lib) / "RT" / "Generated.pm"
    for line in generated.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("our $VERSION"):
            return line.split("'")[1] if "'" in line else line
    return "?"


def _env(cfg: Config, home: Path) -> dict[str, str]:
    env = cfg.env()
    env.update(RT_SITE_CONFIG=str(home / "RT_SiteConfig.pm"), RT_SITE_CONFIG_DIR=str(home / "site.d"),
               TMPDIR=str(home), PERL5LIB=cfg.rt_lib, LANG="C.UTF-8", LC_ALL="C.UTF-8")
    return env


def _home(cfg: Config, home: Path, db: Path) -> dict[str, str]:
    """A folder holding an RT site config of its own for the database ``db``."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "site.d").mkdir(exist_ok=True)
    (home / "RT_SiteConfig.pm").write_text(SITE_CONFIG.format(db=db), encoding="utf-8")
    return _env(cfg, home)


def _run(argv: Sequence[str], env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(list(argv), env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {(proc.stdout + proc.stderr)[-2000:]}")
    return proc.stdout


def cached_instance(cfg: Config, mode: str) -> tuple[Path, dict[str, Any]]:
    """The cached, initialised RT database of ``mode``, made first if missing."""
    from bench.search import CACHE

    key = hashlib.sha256("\n".join((version(cfg), SCRIPT.read_text(encoding="utf-8"), SITE_CONFIG, mode))
                         .encode()).hexdigest()[:16]
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / f"rt-{mode}-{key}.db"
    meta_path = CACHE / f"rt-{mode}-{key}.json"
    if db.exists() and meta_path.exists():
        return db, {**json.loads(meta_path.read_text()), "cached": True}
    for old in CACHE.glob(f"rt-{mode}-*"):
        old.unlink(missing_ok=True)
    work = cfg.scratch(f"rt-setup-{mode}")
    tmp = work / "rt.db"
    env = _home(cfg, work, tmp)
    started = time.perf_counter()
    _run([PERL, f"-I{cfg.rt_lib}", SETUP_DATABASE, "--action", "init", "--skip-create"], env, work)
    meta = json.loads(_run([PERL, f"-I{cfg.rt_lib}", str(SCRIPT), "setup", mode], env, work).splitlines()[-1])
    meta["setup_seconds"] = round(time.perf_counter() - started, 1)
    shutil.copyfile(tmp, work / "done.db")
    (work / "done.db").replace(db)  # whole or not at all, for a run beside this one
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return db, {**meta, "cached": False}


class RtDesk:
    """One throwaway RT instance (a copy of the cached database) and its
    long-lived ``rt_lifecycle.pl serve`` process."""

    def __init__(self, cfg: Config, mode: str) -> None:
        source, self.meta = cached_instance(cfg, mode)
        self.mode = mode
        self.home = cfg.scratch(f"rt-{mode}")
        db = self.home / "rt.db"
        env = _home(cfg, self.home, db)
        copy_db(source, db)
        self.log = open(self.home / "stderr.log", "wb")  # noqa: SIM115 - the child's, closed by close()
        self.proc = subprocess.Popen([PERL, f"-I{cfg.rt_lib}", str(SCRIPT), "serve"], env=env, cwd=self.home,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)
        self.done = 0
        self.cpu_ms: list[float] = []  # CPU per lifecycle (user + system) of each call

    def lifecycles(self, texts: Sequence[tuple[str, str]]) -> float:
        """Runs one lifecycle per (subject, description) pair; lifecycles/s."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"texts": [list(t) for t in texts]}, ensure_ascii=False)
                              .encode("utf-8") + b"\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            log = (self.home / "stderr.log").read_text(encoding="utf-8", errors="replace")
            raise RuntimeError(f"rt_lifecycle.pl ({self.mode}) exited {self.proc.returncode}: {log[-2000:]}")
        got = json.loads(line)
        self.done += got["n"]
        self.cpu_ms.append(got["cpu_seconds"] / got["n"] * 1000)
        return got["n"] / got["seconds"]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def run(cfg: Config) -> list[Result]:
    from bench.desksize import lifecycle, texts

    why = missing(cfg)
    if why:
        return [skipped(NAME, f"lifecycles/s, empty desk vs {LABEL[m]}, same run", why) for m in MODES]
    n = cfg.pick(15, 30, 50)  # itsm lifecycles a sample
    reps = cfg.pick(6, 10, 15)
    words = iter(texts(n * (reps + 2) * (len(MODES) + 1) + 100, start=8_000_000))
    rts = {m: RtDesk(cfg, m) for m in MODES}
    cfg.apply_env()
    api = open_api(sqlite_url(cfg.scratch("rt-itsm.db")))

    itsm_cpu_ms: list[float] = []

    def itsm() -> float:
        batch = [next(words) for _ in range(n)]
        c0 = time.process_time()
        t0 = time.perf_counter()
        for title, desc in batch:
            lifecycle(api, title, desc)
        elapsed = time.perf_counter() - t0
        itsm_cpu_ms.append((time.process_time() - c0) / n * 1000)
        return n / elapsed

    def rt_batch(mode: str, size: int) -> float:
        return rts[mode].lifecycles([next(words) for _ in range(size)])

    samples: dict[str, list[float]] = {"itsm": [], **{m: [] for m in MODES}}
    try:
        # warm-up (not recorded); then each RT sample is sized to take about as
        # long as itsm's, so that a noisy neighbour meets both alike
        for m in MODES:
            rt_batch(m, 2)
        rate = itsm()
        size = {m: min(n, max(2, round(n * rt_batch(m, 3) / rate))) for m in MODES}
        itsm_cpu_ms.clear()
        for desk in rts.values():
            desk.cpu_ms.clear()
        for _ in range(reps):
            for m in MODES:
                samples[m].append(rt_batch(m, size[m]))
            samples["itsm"].append(itsm())
    finally:
        for desk in rts.values():
            desk.close()
        api.store.close()
    rt_version = version(cfg)
    note = (f"RT {rt_version} on SQLite; {reps} samples alternated, {n} itsm lifecycles a sample, RT "
            f"{size['mail-on']} (mail on) and {size['mail-off']} (mail off); "
            f"enabled scrips: mail on {rts['mail-on'].meta.get('scrips_enabled')}, "
            f"mail off {rts['mail-off'].meta.get('scrips_enabled')}")
    out = [Result(NAME, f"lifecycles/s, empty desk vs {LABEL[m]}, same run", median(samples["itsm"]), "tickets/s",
                  median(samples[m]), f"{LABEL[m]}, SQLite", samples=samples["itsm"],
                  baseline_samples=samples[m], note=note if m == "mail-off" else "")
           for m in MODES]
    out.append(Result(NAME, "RT 5 lifecycles/s, default mail scrips vs mail scrips off", median(samples["mail-on"]),
                      "tickets/s", median(samples["mail-off"]), LABEL["mail-off"],
                      samples=samples["mail-on"], baseline_samples=samples["mail-off"],
                      note="2 mails a lifecycle (autoreply, resolved) to a temporary file "
                           "($MailCommand 'testfile'), never sent"))
    for m in MODES:
        out.append(Result(NAME, f"CPU per lifecycle, itsm (empty desk) vs {LABEL[m]}", median(itsm_cpu_ms),
                          "ms CPU", median(rts[m].cpu_ms), f"{LABEL[m]} (its Perl process)", samples=itsm_cpu_ms,
                          baseline_samples=rts[m].cpu_ms,
                          note="user + system CPU, fsync calls included; moves less with the disk than the wall "
                               "clock" if m == "mail-off" else ""))
    return out
