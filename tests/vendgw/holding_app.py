"""A WSGI application behind vendgw.serving's bridge whose `/hold` request keeps its thread until
the test releases it, for tests/vendgw/test_serving_accept.py (served by the real gunicorn with
vendgw.serving.Worker). Every answer names the worker process that gave it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vendgw.serving import WsgiBridge

GATE = Path(os.environ.get("HOLDING_APP_GATE", "/nonexistent"))


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/hold":
        (GATE / f"held-{os.getpid()}").touch()
        deadline = time.monotonic() + 60  # never a thread held for ever, whatever the test does
        while not (GATE / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


application = WsgiBridge(app, max_body_bytes=1024)
