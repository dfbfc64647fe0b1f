from __future__ import annotations

from collections.abc import Iterator

import pytest

from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager

from . import toy


@pytest.fixture
def toy_plugins() -> Iterator[None]:
    """A plugin manager holding only the toy actors (no built-ins, no entry points)."""
    reset_plugin_manager(create_plugin_manager(builtins=(), extra=[toy], autoload=False))
    yield
    reset_plugin_manager()
