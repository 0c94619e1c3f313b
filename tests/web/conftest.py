"""Fixtures of the web tests (helpers in _web.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _web import Web, make_web  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # starlette's TestClient prefers the httpx2 fork; httpx works the same here
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture
def web(db_url: str, org: Any) -> Web:
    return make_web(db_url, org.people)
