"""Command-line options shared by several commands."""

from __future__ import annotations

import argparse

from gpsa.device import device_problem

#: The metavar and help fragment of every ``--device`` option.
DEVICE_METAVAR = "cpu|cuda|cuda:N|auto"


def device_arg(value: str) -> str:
    """argparse ``type`` of ``--device``: cpu, cuda, cuda:N or auto (one-line usage error)."""
    problem = device_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value
