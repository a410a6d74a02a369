"""Fixtures of the STS tests: ``@pytest.mark.sts_vectors(kind, ...)`` parametrizes a test's
``vector`` argument with every published vector of those kinds (tests/support/sts_vectors.py)."""

from __future__ import annotations

import pytest

from tests.support.sts_vectors import vector_id, vectors


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sts_vectors(*kinds): parametrize the `vector` argument with published vectors"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("sts_vectors")
    if marker is not None and "vector" in metafunc.fixturenames:
        found = vectors(*marker.args)
        metafunc.parametrize("vector", found, ids=[vector_id(v) for v in found])
