"""``gpsa basis``: make, inspect and convert signal bases.

::

    gpsa basis info FILE [--json]
    gpsa basis convert IN OUT [--segment-order O] [--dtype float16] [--compression gzip]

Each sub-command is added by its own ``add_*(sub)`` function so that several modules contribute
without touching each other: list the function in :data:`SUBCOMMANDS` (e.g. ``basis generate``
from the field-calculation code adds ``add_generate`` here).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from gpsa.cli.basis_files import add_convert, add_info
from gpsa.cli.basis_generate import add_generate

#: Functions adding one sub-command each to the ``basis`` sub-parsers action.
SUBCOMMANDS: list[Callable[[Any], None]] = [
    add_info,
    add_convert,
    add_generate,
]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("basis", help="make, inspect and convert signal bases",
                                   description="Make, inspect and convert signal basis files "
                                   "(format: bases/README.md).")
    sub = parser.add_subparsers(dest="basis_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: _usage(parser))
    for add in SUBCOMMANDS:
        add(sub)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
