"""The one lexical form of gpsa's small text tables: one record per line, fields separated by
blanks, ``#`` starting a comment, blank lines ignored.

Used by the ADF key table, the geometry tables (A180 ``asolid``/``aclust``/``aeuler``,
``crmat``), calibration coefficients, cross-talk matrices and ``TimeEvoCC.conf``. Each reader
parses the fields itself and raises its own one-line error naming ``file:line``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from gpsa.errors import ConfigError


class Record(NamedTuple):
    """One non-blank line: 1-based line number, its fields, the line without its comment."""

    lineno: int
    fields: list[str]
    line: str


def records(text: str) -> Iterator[Record]:
    """The records of ``text`` (comments and blank lines dropped)."""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if line:
            yield Record(lineno, line.split(), line)


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The text of ``path``; an unreadable file is a one-line :class:`ConfigError` naming it and
    ``what`` it should have been (e.g. "calibration file")."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read {what}: {exc.strerror or exc}") from None


def read_records(path: str | os.PathLike[str], what: str) -> Iterator[Record]:
    """The records of the file ``path`` (see :func:`read_text` for the error on a bad path)."""
    return records(read_text(path, what))
