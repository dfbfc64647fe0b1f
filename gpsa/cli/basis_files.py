"""``gpsa basis info`` and ``gpsa basis convert``: inspect and convert v1 basis files.

::

    gpsa basis info FILE [--json]
    gpsa basis convert IN OUT [--segment-order ring-major] [--dtype float16] [--compression gzip]

:func:`add_file_commands` adds both to the ``basis`` sub-command parser (built in
:mod:`gpsa.cli.basis`, which also holds ``basis generate``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from gpsa.cli.output import print_json, print_line, print_table


def add_file_commands(sub: Any) -> None:
    """Register ``info`` and ``convert`` on the ``basis`` sub-parsers action ``sub``."""
    add_info(sub)
    add_convert(sub)


def add_info(sub: Any) -> None:
    p = sub.add_parser("info", help="points, segments, grid, attributes and memory of a basis",
                       description="Validate a basis file and describe it.")
    p.add_argument("file", metavar="FILE", help="basis file (HDF5, gpsa-basis v1)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_info)


def add_convert(sub: Any) -> None:
    p = sub.add_parser("convert", help="change segment order, sample dtype or compression",
                       description="Read, validate and rewrite a basis file.")
    p.add_argument("input", metavar="IN", help="basis file to read")
    p.add_argument("output", metavar="OUT", help="basis file to write")
    p.add_argument("--segment-order", choices=("sector-major", "ring-major"),
                   help="segment order of OUT (default: that of IN)")
    p.add_argument("--dtype", choices=("float32", "float16"),
                   help="sample type of OUT's /signals (default: that of IN)")
    p.add_argument("--compression", choices=("none", "gzip", "lzf"), default="none",
                   help="compression of OUT (default none: memory-mappable)")
    p.add_argument("--flip-polarity", choices=("auto", "never", "always"), default="auto",
                   help="how to treat a basis of negative polarity (default auto: flip)")
    p.set_defaults(func=run_convert)


def describe(path: str) -> dict[str, Any]:
    """Everything ``basis info`` reports, as a JSON-friendly dict."""
    from gpsa.basis.grid import BasisGrid
    from gpsa.basis.io import load_basis

    b = load_basis(path)
    g = BasisGrid.from_basis(b)
    mapped = isinstance(b.signals.base, np.memmap)
    return {
        "file": path, "file_bytes": os.path.getsize(path), "points": len(b),
        "samples": b.n_samples, "dtype": b.signals.dtype.name,
        "signals_bytes": int(b.signals.nbytes), "memory_mapped": bool(mapped),
        "attributes": {"sampling_ns": b.sampling_ns, "t0_sample": b.t0_sample,
                       "segment_order": b.segment_order, "grid_mm": b.grid_mm,
                       "crystal_type": b.crystal_type, "preamp_tau_ns": b.preamp_tau_ns,
                       "generator": b.generator},
        "grid": {"origin_mm": g.origin.tolist(), "spacing_mm": g.spacing.tolist(),
                 "dims": list(g.dims), "filled": len(b) / float(g.index.size)},
        "extent_mm": [b.positions.min(axis=0).tolist(), b.positions.max(axis=0).tolist()],
        "segment_counts": [int(c) for c in b.segment_counts],
    }


def run_info(args: argparse.Namespace) -> int:
    info = describe(args.file)
    if args.json:
        print_json(info)
        return 0
    a, g = info["attributes"], info["grid"]
    rows = [
        ("points", info["points"]), ("samples", f"{info['samples']} × {a['sampling_ns']:g} ns, "
                                                f"t0 at {a['t0_sample']}"),
        ("signals", f"{info['dtype']}, {info['signals_bytes'] / 1e6:.1f} MB "
                    f"({'memory-mapped' if info['memory_mapped'] else 'in memory'})"),
        ("file", f"{info['file_bytes'] / 1e6:.1f} MB"),
        ("grid", f"spacing {_fmt(g['spacing_mm'])} mm, origin {_fmt(g['origin_mm'])} mm, "
                 f"dims {g['dims']}, {100 * g['filled']:.0f}% filled"),
        ("segment order", a["segment_order"]), ("crystal type", a["crystal_type"] or "-"),
        ("grid_mm", a["grid_mm"]), ("preamp tau", f"{a['preamp_tau_ns']:g} ns"),
        ("generator", a["generator"] or "-"),
    ]
    print_table(f"basis {args.file}", ["property", "value"], rows)
    counts = info["segment_counts"]
    major = "sector" if a["segment_order"] == "sector-major" else "ring"
    minor = "ring" if major == "sector" else "sector"
    print_table(f"points per segment (rows: {major} 0-5, columns: {minor} 0-5)",
                [major, *(f"{minor} {i}" for i in range(6)), "total"],
                [(r, *counts[6 * r:6 * r + 6], sum(counts[6 * r:6 * r + 6])) for r in range(6)])
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from gpsa.basis.io import load_basis, write_basis

    basis = load_basis(args.input, segment_order=args.segment_order,
                       flip_polarity=args.flip_polarity)
    compression = None if args.compression == "none" else args.compression
    write_basis(args.output, basis, dtype=args.dtype, compression=compression)
    print_line(f"{args.input} -> {args.output}: {len(basis)} points, {basis.segment_order}, "
               f"{args.dtype or basis.signals.dtype.name}, compression {args.compression}")
    return 0


def _fmt(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"
