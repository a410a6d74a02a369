"""The WSGI application gunicorn serves: routing between the SOAP endpoint and the health check."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from typing import Any

from core.runtime import Runtime
from core.settings import get_settings
from vendgw.health import health_app

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def not_found(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]


def create_app(runtime: Runtime) -> WsgiApp:
    from gateway.soap import create_soap_app
    from gateway.vend.service import DatabaseVendingService
    from gateway.xmlvend import create_xmlvend_app

    service = DatabaseVendingService(runtime)
    routes: dict[str, WsgiApp] = {
        "/healthz": health_app(runtime),
        "/vend": create_soap_app(service, runtime),
        "/xmlvend/2.1": create_xmlvend_app(service, runtime),
    }

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return routes.get(environ.get("PATH_INFO", ""), not_found)(environ, start_response)

    return app


def __getattr__(name: str) -> Any:
    # Built on first use in each gunicorn worker (after fork), never at import in the master.
    if name == "application":
        runtime = Runtime(get_settings())
        # Requests run in threads (vendgw.serving): build what they share here, once, rather
        # than on a first use that two threads could race to (cached_property takes no lock
        # from Python 3.12 on).
        _ = (
            runtime.engine,
            runtime.single_reads,
            runtime.sessions,
            runtime.security_module,
            runtime.verifier_key,
        )
        from vendgw.metrics import instrument  # request ids; metrics when enabled

        app = instrument(create_app(runtime))
        globals()["application"] = app
        # Everything built so far (modules, the spyne application, the ORM mappers) lives as long
        # as the worker: take it out of the collector's view, so that a full collection walks only
        # what requests allocate (22 ms -> under 1 ms measured on a warm worker).
        gc.freeze()
        return app
    raise AttributeError(name)
