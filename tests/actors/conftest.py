"""Fixtures for the built-in actors: a small basis file made once per session and run files
that simulate, preprocess, analyse and write a couple of crystals."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpsa.plugins.manager import reset_plugin_manager


@pytest.fixture(autouse=True)
def default_plugins() -> Iterator[None]:
    """The process-wide plugin manager as a user gets it (built-ins + installed plugins)."""
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def write_run(folder: Path, basis: Path, *, crystals: tuple[str, ...] = ("00A", "00B"),
              events: int = 150, block_size: int = 30, rate_hz: float = 0.0, workers: int = 1,
              algorithm: str = "grid-search", extra_psa: str = "", consumers: str = "") -> Path:
    """A run file simulating ``events`` per crystal through the whole local chain."""
    folder.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent(f"""\
        [run]
        crystals = {list(crystals)!r}
        output = "out"

        [[stage]]
        actor = "simulator"
        basis = "{basis}"
        events = {events}
        block_size = {block_size}
        rate_hz = {rate_hz}

        [[stage]]
        actor = "preprocess"
        align_t0 = 20

        [[stage]]
        actor = "psa"
        basis = "{basis}"
        algorithm = "{algorithm}"
        workers = {workers}
        {extra_psa}

        [[stage]]
        actor = "post-psa"

        [[stage]]
        actor = "adf-writer"
        {consumers}
        """)
    path = folder / "run.toml"
    path.write_text(text)
    return path


def write_replay(folder: Path, basis: Path, data: Path, *, name: str = "run.toml",
                 reader: str = "", preprocess: bool = True, psa: str = "",
                 consumer: str = "adf-writer") -> Path:
    """A run file replaying the ADF file ``data`` of crystal 00A: adf-reader (``reader``: more
    settings) -> [preprocess] -> psa (``psa``: more settings) -> ``consumer``."""
    folder.mkdir(parents=True, exist_ok=True)
    pre = '[[stage]]\nactor = "preprocess"\nalign_t0 = 20\n' if preprocess else ""
    text = textwrap.dedent(f"""\
        [run]
        crystals = ["00A"]
        output = "out"

        [[stage]]
        actor = "adf-reader"
        path = "{data}"
        {reader}
        """) + pre + textwrap.dedent(f"""\
        [[stage]]
        actor = "psa"
        basis = "{basis}"
        {psa}

        [[stage]]
        actor = "{consumer}"
        """)
    path = folder / name
    path.write_text(text)
    return path
