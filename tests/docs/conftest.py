"""Fixtures of the documentation tests: the process-wide plugin manager reset around each test,
and the fenced code blocks of a markdown page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpsa.plugins.manager import reset_plugin_manager

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


@pytest.fixture(autouse=True)
def fresh_plugins() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block of a markdown text, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def file_blocks(text: str) -> dict[str, str]:
    """The blocks whose first line is ``# file: PATH``, by PATH."""
    out = {}
    for _, body in code_blocks(text):
        first, _, rest = body.partition("\n")
        if first.startswith("# file: "):
            out[first.removeprefix("# file: ").strip()] = body
    return out
