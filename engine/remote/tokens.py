"""The personal tokens of ``itsm login``: one per desk server, kept like gh's
hosts.yml in the user's config folder, ``$XDG_CONFIG_HOME/itsm/hosts.json``
(default ``~/.config/itsm/hosts.json``)::

    {"https://desk.example.com": {"token": "itsm_...", "user": "wang.lei"}}

The file is created with mode 0600 (the folder 0700) and replaced atomically;
a file others can read or write is refused until its owner fixes it (``chmod
600``), since anyone who can read it can act as its owner.  ``ITSM_TOKEN``
wins over the file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.i18n import N_

MAX_FILE = 1024 * 1024  # bytes: a hosts file is a few lines


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "itsm"


def hosts_file() -> Path:
    return config_dir() / "hosts.json"


def _check_private(path: Path) -> None:
    info = path.stat()
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(N_("{path} can be read or written by others (mode {mode:o}): it holds your "
                            "tokens; run 'chmod 600 {path}' (and revoke the tokens if someone else may have "
                            "read them)"), values={"path": path, "mode": stat.S_IMODE(info.st_mode)})


def load() -> dict[str, dict[str, Any]]:
    path = hosts_file()
    if not path.is_file():
        return {}
    _check_private(path)
    with open(path, "rb") as fh:
        raw = fh.read(MAX_FILE + 1)
    try:
        data = json.loads(raw) if len(raw) <= MAX_FILE else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UsageError(N_("{path}: not a hosts file of itsm; remove it and log in again"),
                         values={"path": path})
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def _save(hosts: dict[str, dict[str, Any]]) -> Path:
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = hosts_file()
    temp = folder / f".hosts.json.{os.getpid()}.tmp"
    try:
        temp.unlink()
    except FileNotFoundError:
        pass
    # O_EXCL: never write into a file (or a link) someone else put there; 0600 from the start
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(hosts, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def get(url: str) -> dict[str, Any] | None:
    """The stored login for the server at ``url`` ({token, user}), if any."""
    entry = load().get(url)
    return entry if entry and entry.get("token") else None


def put(url: str, token: str, user: str | None) -> Path:
    hosts = load()
    hosts[url] = {"token": token, "user": user}
    return _save(hosts)


def forget(url: str) -> bool:
    """Remove the login for ``url``; whether there was one."""
    hosts = load()
    if url not in hosts:
        return False
    del hosts[url]
    _save(hosts)
    return True
