"""Reading the small whitespace-separated geometry tables (A180 ``asolid``, ``aclust``, ``aeuler``
and ``*_AGATA_crmat.dat``).

All of them share one lexical form: one record per line, numbers separated by blanks, ``#``
starting a comment, blank lines ignored. :func:`read_rows` yields the records with their line
numbers so that every parser can raise a one-line :class:`GeometryError` naming file and line;
a file that cannot be read is a :class:`gpsa.errors.ConfigError` (exit code 2, like any missing
file named by the user).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gpsa.errors import GpsaError
from gpsa.textfile import read_records

PathLike = str | os.PathLike[str]


class GeometryError(GpsaError, ValueError):
    """A geometry table is unreadable or inconsistent, or a geometry is invalid.

    The message is one line; for files it names the file and the line number.
    """


@dataclass(frozen=True)
class Row:
    """One record of a table: its 1-based line number and its numeric fields."""

    line: int
    values: tuple[float, ...]

    def ints(self, n: int, source: str) -> tuple[int, ...]:
        """The first ``n`` fields as integers (they must be integral)."""
        out = []
        for v in self.values[:n]:
            if v != int(v):
                raise GeometryError(f"{source}:{self.line}: expected an integer, got {v:g}")
            out.append(int(v))
        return tuple(out)


def read_rows(path: PathLike, *, min_fields: int = 1) -> Iterator[Row]:
    """Yield the numeric records of ``path``; raise :class:`GeometryError` on a bad line.

    A record with fewer than ``min_fields`` numbers or a field that is not a number is an error
    naming the file and the line.
    """
    p = Path(path)
    for lineno, fields, line in read_records(p, "geometry table"):
        try:
            values = tuple(float(f) for f in fields)
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            raise GeometryError(f"{p}:{lineno}: not a number: {bad!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise GeometryError(f"{p}:{lineno}: non-finite number in {line!r}")
        if len(values) < min_fields:
            raise GeometryError(f"{p}:{lineno}: expected at least {min_fields} numbers, "
                                f"got {len(values)}")
        yield Row(lineno, values)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
