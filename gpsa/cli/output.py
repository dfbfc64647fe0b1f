"""Output helpers for the CLI: rich tables in a terminal, plain lines otherwise (Docker logs, CI,
pipes), JSON on request. Library code logs with :mod:`logging`; only the CLI prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def print_json(data: Any, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    json.dump(data, stream, indent=2, default=_json_default)
    stream.write("\n")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                stream: TextIO | None = None) -> None:
    """A table: rich in a terminal, tab-separated plain lines otherwise."""
    stream = stream or sys.stdout
    if is_terminal(stream):
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for col in columns:
            table.add_column(str(col))
        for row in rows:
            table.add_row(*(str(v) for v in row))
        Console(file=stream).print(table)
    else:
        stream.write(f"# {title}\n")
        stream.write("\t".join(str(c) for c in columns) + "\n")
        for row in rows:
            stream.write("\t".join(str(v) for v in row) + "\n")


def print_line(text: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(text + "\n")
