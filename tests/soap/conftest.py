"""Fixtures for the SOAP edge tests: the gateway's /vend WSGI application in this process, on the
demo database (both backends) with the real DatabaseVendingService.
"""

from __future__ import annotations

import pytest

from gateway.soap import create_soap_app
from gateway.soap.app import WsgiApp
from tests.conftest import TestDatabase


@pytest.fixture
def vend_app(demo_db: TestDatabase) -> WsgiApp:
    """/vend on the demo database, calling the real vending service."""
    from gateway.vend.service import DatabaseVendingService

    return create_soap_app(DatabaseVendingService(demo_db.runtime), demo_db.runtime)
