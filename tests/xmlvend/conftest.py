"""The end-to-end fixtures (the real server under gunicorn on a seeded demo database, per
backend) for the XMLVend 2.1 tests."""

from tests.e2e.conftest import base_url, e2e_db, server

__all__ = ["base_url", "e2e_db", "server"]
