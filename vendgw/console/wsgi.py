"""What gunicorn serves for `vendgw console`: the console behind vendgw.serving's deadline bridge
(slow clients cost a coroutine, never a worker), built on first use in each worker."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "application":
        from core.runtime import Runtime
        from core.settings import get_settings
        from vendgw.console.app import MAX_BODY_BYTES, create_app
        from vendgw.serving import WsgiBridge

        runtime = Runtime(get_settings())
        bridge = WsgiBridge(create_app(runtime), max_body_bytes=MAX_BODY_BYTES)
        globals()["application"] = bridge
        return bridge
    raise AttributeError(name)
