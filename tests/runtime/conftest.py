from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest

from gpsa.central.server import LocalRedis
from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager

from . import toy


@pytest.fixture
def toy_plugins() -> Iterator[None]:
    """A plugin manager holding only the toy actors (no built-ins, no entry points)."""
    reset_plugin_manager(create_plugin_manager(builtins=(), extra=[toy], autoload=False))
    yield
    reset_plugin_manager()


# --- batch mode (test_batch.py): a small basis and a real redis-server ------------------------
class RedisHolder:
    """The test's redis-server; :meth:`kill` and :meth:`restart` on the same folder and AOF."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="gpsa-t-", dir="/tmp")  # short socket path
        self.server = LocalRedis(self.folder).start()
        self.url = self.server.url

    def kill(self) -> None:
        assert self.server.proc is not None
        self.server.proc.kill()
        self.server.proc.wait()

    def restart(self) -> None:
        self.server.stop()
        self.server = LocalRedis(self.folder).start()
        assert self.server.url == self.url

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def batch_redis() -> Iterator[RedisHolder]:
    holder = RedisHolder()
    try:
        yield holder
    finally:
        holder.close()
