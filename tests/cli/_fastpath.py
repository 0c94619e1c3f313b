"""The two paths of the ``itsm`` console script side by side (tests/cli/test_entry.py,
tests/cli/test_remote.py): entry.main, which takes the fast path when it can, and
cli.main (click only), in fresh interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# itsm ARGV in a fresh interpreter, through entry.main (the console script) or,
# with ITSM_PROBE_CLICK set, through cli.main (click only); what it loaded is
# written to $ITSM_PROBE_OUT when it exits
PROBE = """
import atexit, json, os, sys
sys.argv[0] = "itsm"
def loaded():
    top = {m.split(".")[0] for m in sys.modules}
    with open(os.environ["ITSM_PROBE_OUT"], "w") as fh:
        json.dump(sorted(top & {"click", "sqlalchemy", "jinja2", "fastapi", "yaml", "transitions"}), fh)
atexit.register(loaded)
if os.environ.get("ITSM_PROBE_CLICK"):
    import cli
    cli.main()
else:
    import entry
    entry.main()
"""


def run_probe(args: list[str], env: dict[str, str], tmp: Path, click_only: bool,
              cwd: Path | None = None) -> tuple[tuple[int, str, str], list[str]]:
    out = tmp / f"probe-{os.getpid()}-{click_only}.json"
    full = {**env, "ITSM_PROBE_OUT": str(out)}
    if click_only:
        full["ITSM_PROBE_CLICK"] = "1"
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, timeout=120, env=full,
                          cwd=cwd or tmp)
    loaded = json.loads(out.read_text())
    out.unlink()
    return (proc.returncode, proc.stdout.decode(), proc.stderr.decode()), loaded


def both_paths(args: list[str], env: dict[str, str], tmp: Path, fast: bool = True,
               cwd: Path | None = None) -> tuple[int, str, str]:
    """``itsm ARGS`` through the console script and through click alone: the same
    exit code, stdout and stderr bytes; the console script took the fast path
    (no click, nothing heavy loaded) when ``fast``, else handed it to click."""
    via_entry, loaded = run_probe(args, env, tmp, click_only=False, cwd=cwd)
    via_click, _ = run_probe(args, env, tmp, click_only=True, cwd=cwd)
    assert via_entry == via_click, (args, via_entry, via_click)
    assert "Traceback" not in via_entry[2], via_entry
    if fast:
        assert loaded == [], f"itsm {' '.join(args)} loaded {loaded}"
    else:
        assert "click" in loaded, f"itsm {' '.join(args)} did not go to click"
    return via_entry
