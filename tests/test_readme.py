"""The README's first session, run as written (issue #23): every command works,
the report covers the period the session just created, and the second ticket
finds the first one's solution."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def session_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## A first session", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_the_readme_session_runs_and_means_something(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "itsm").exists(), f"the itsm command is not installed next to {sys.executable}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITSM_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", ITSM_HOME=str(REPO),
               ITSM_CACHE_DIR=str(tmp_path / "cache"), XDG_DATA_HOME=str(tmp_path / "data"),
               TZ="America/New_York")  # the machine's zone does not decide the desk's
    commands = session_commands()
    assert len(commands) >= 15 and commands[0].startswith("export ITSM_DATABASE_URL=")
    checks = [
        "itsm --as wang.lei similar INC-000002 --json > similar.json",
        "itsm report weekly --current --format json > weekly.json",
    ]
    script = "set -e\n" + "\n".join(commands + checks) + "\n"
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "INC-000001" in proc.stdout  # the second intake offers the first one's solution
    similar = json.loads((tmp_path / "similar.json").read_text(encoding="utf-8"))
    assert similar[0]["key"] == "INC-000001" and similar[0]["solution"] == "Reinstalled the VPN profile"
    weekly = json.loads((tmp_path / "weekly.json").read_text(encoding="utf-8"))
    volume = next(k for k in weekly["kpis"] if k["kpi"] == "volume")
    logged = sum(row.get("count") or 0 for row in volume["tables"][0]["rows"])
    assert logged == 2, volume  # both tickets of this session are in this week's report
    html = (tmp_path / "weekly.html").read_text(encoding="utf-8")
    assert "<svg" in html and re.search(r"P[1-4]", html)
    assert "journal intact" in proc.stdout
    # one display time without ITSM_TZ: the head office's zone, with its offset, in history
    times = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d", proc.stdout)
    assert times and {t[-6:] for t in times} == {"+08:00"}, proc.stdout
