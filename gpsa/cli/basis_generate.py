"""``gpsa basis generate``: make a signal basis from physics (fields, drift, Shockley–Ramo).

::

    gpsa basis generate --crystal A --grid 2 --out bases/basis_A.h5 [--field-grid 1]
        [--impurity 0.45,0.05] [--bias 5000] [--tau 35] [--asolid FILE] [--order sector-major]
        [--settings FILE.toml] [--set KEY=VALUE ...] [--dtype float16]
        [--cache-dir bases/cache | --no-cache] [--json]

``--set`` gives any :class:`gpsa.basis.fields.settings.GeneratorSettings` field (the value is
read as JSON when it parses, e.g. ``--set crosstalk=0.01 --set hole=[61215,182,0.662,0]
--set 'ring_depths=[8,14,16,17,21,14]' --set sector_boundary=edges``); ``--settings`` reads
them from a TOML file (its ``[generator]`` table, or the whole file), and ``--set`` and the
named options override the file. An unknown key stops before any work with exit code 2.
Progress goes to stderr: a rich bar in a terminal, a plain line every few seconds otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from gpsa.cli.output import is_terminal, print_json, print_line
from gpsa.errors import ConfigError


def add_generate(sub: Any) -> None:
    """Register ``generate`` on the ``basis`` sub-parsers action ``sub``."""
    p = sub.add_parser("generate", help="generate a basis from fields and charge drift",
                       description="Generate a signal basis from physics: Poisson and Laplace "
                       "fields, electron/hole drift, Shockley-Ramo induced charges, preamp.")
    p.add_argument("--crystal", default="A", help="shape letter A, B or C, or a crystal name "
                   "such as 00A (default A)")
    p.add_argument("--grid", type=float, default=2.0, help="basis grid spacing, mm (default 2)")
    p.add_argument("--out", required=True, metavar="FILE", help="output basis file (HDF5 v1)")
    p.add_argument("--field-grid", type=float, metavar="MM",
                   help="field grid spacing, mm (default 1)")
    p.add_argument("--impurity", metavar="A,B", help="net impurity 1e10 cm^-3 at the front "
                   "face and its gradient per cm (default 0.45,0.05)")
    p.add_argument("--bias", type=float, metavar="V", help="core bias, V (default 5000)")
    p.add_argument("--tau", type=float, metavar="NS", help="preamp time constant (default 35)")
    p.add_argument("--asolid", metavar="FILE", help="A180 asolid table (default: gpsa's "
                   "synthetic shapes)")
    p.add_argument("--order", default="sector-major", help="segment order of the basis")
    p.add_argument("--settings", metavar="FILE", help="TOML file of generator settings "
                   "(its [generator] table or top-level keys); --set overrides it")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any generator setting (repeatable), e.g. 'ring_depths=[8,14,16,17,21,"
                   "14]', sector_boundary=edges, hole_bottom_radius=5, core_contact_mm=0.7")
    p.add_argument("--dtype", choices=("float32", "float16"), help="signal dtype of the file")
    p.add_argument("--cache-dir", default="bases/cache", help="field cache directory "
                   "(default bases/cache)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_generate)


def settings_from_args(args: argparse.Namespace) -> Any:
    """GeneratorSettings from the options (the ``--settings`` file, then ``--set``, then the
    named options, each overriding the one before)."""
    from gpsa.basis.fields.settings import GeneratorSettings

    data: dict[str, Any] = {}
    if getattr(args, "settings", None):
        data.update(GeneratorSettings.from_toml(args.settings).to_dict())
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set needs KEY=VALUE, got {item!r}")
        try:
            data[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            data[key.strip()] = text
    named = {"field_grid_mm": args.field_grid, "bias_v": args.bias, "preamp_tau_ns": args.tau,
             "dtype": args.dtype}
    data.update({k: v for k, v in named.items() if v is not None})
    if args.impurity:
        try:
            a, b = (float(v) for v in args.impurity.split(","))
        except ValueError:
            raise ConfigError(f"--impurity needs A,B (two numbers), got {args.impurity!r}"
                              ) from None
        data.update(impurity_a=a, impurity_b=b)
    return GeneratorSettings.from_dict(data)


def geometry_from_args(args: argparse.Namespace) -> Any:
    from gpsa.detector import CrystalGeometry, parse_crystal, shape_letter

    text = str(args.crystal).strip().upper()
    letter = text if text in ("A", "B", "C") else shape_letter(parse_crystal(text))
    if args.asolid:
        return CrystalGeometry.from_asolid(args.asolid, letter, order=args.order)
    return CrystalGeometry.default(letter, order=args.order)


class _Reporter:
    """``progress(done, total, message)`` drawn as a rich bar or as plain periodic lines."""

    def __init__(self, stream: Any, interval: float = 5.0) -> None:
        self.stream, self.interval, self.last = stream, interval, 0.0
        self.rich: Any = None
        self.task: Any = None
        self.message = ""

    def __enter__(self) -> _Reporter:
        if is_terminal(self.stream):
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.rich = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TimeRemainingColumn(), console=Console(file=self.stream))
            self.rich.__enter__()
            self.task = self.rich.add_task("basis", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.rich is not None:
            self.rich.__exit__(*exc)

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.rich is not None:
            self.rich.update(self.task, completed=done, total=total, description=message)
            return
        now = time.monotonic()
        if message != self.message or done >= total or now - self.last >= self.interval:
            self.message, self.last = message, now
            count = f": {done}/{total} points" if done else ""
            self.stream.write(f"basis: {message}{count}\n")
            self.stream.flush()


def _generate(args: argparse.Namespace) -> int:
    from gpsa.basis.generate import generate_basis_with_report
    from gpsa.basis.io import write_basis
    from gpsa.paths import check_output_file

    if not args.grid > 0:
        raise ConfigError(f"--grid must be > 0 mm, got {args.grid}")
    check_output_file(args.out)  # before minutes of field solving, not after
    settings = settings_from_args(args)
    geometry = geometry_from_args(args)
    cache = None if args.no_cache else args.cache_dir
    t0 = time.perf_counter()
    with _Reporter(sys.stderr) as report:
        basis, rep = generate_basis_with_report(geometry, args.grid, settings, report, cache)
    path = write_basis(args.out, basis)
    summary = {"file": str(path), "crystal": basis.crystal_type, "points": len(basis),
               "samples": basis.n_samples, "fields_from_cache": rep.fields_from_cache,
               "total_s": round(time.perf_counter() - t0, 2), **rep.summary()}
    if args.json:
        print_json(summary)
    else:
        for key, value in summary.items():
            print_line(f"{key}: {value}")
    return 0
