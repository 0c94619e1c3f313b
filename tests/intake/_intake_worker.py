"""A monitoring sender in its own OS process (spawned): ingests one payload
through ``engine.api.Api`` when every sender is ready, and reports the summary."""

from __future__ import annotations

import traceback
from typing import Any


def send(url: str, home: str, payload: Any, worker: int, barrier: Any, results: Any) -> None:
    try:
        from engine.api import Api

        api = Api.open(home=home, db=url)
        api.store  # connect and check the schema before the start line  # noqa: B018
        barrier.wait(timeout=120)
        summary = api.ingest_alerts(payload)
        results.put((worker, {k: summary[k] for k in ("created", "noted", "counted", "failed")}
                     | {"tickets": sorted({r["ticket"] for r in summary["results"]})}))
    except Exception:  # noqa: BLE001 - reported to the test, which fails on it
        results.put((worker, {"crash": traceback.format_exc()}))
