"""``gpsa transport``: gamma-ray transport of a source through the array → interaction points.

::

    gpsa transport --source co60|cs137|line:E[,E2..] --decays N --out FILE.h5
                   [--geometry DIR | --shell N [--radius MM]] [--crystals 0-5,00B]
                   [--seed S] [--rayleigh] [--activity HZ]
                   [--basis FILE --traces DIR [--trace-crystals 00A,00B] [--noise KEV]] [--json]

``--geometry DIR``: AGATA A180 tables (asolid, aeuler, aclust; see
:data:`gpsa.simulate.transport.geometry.TABLE_NAMES`); without it gpsa's synthetic shapes on a
shell. Writes the points file (layout in ``docs/transport.md``) and prints the per-line
efficiency and P/T. With ``--basis`` and ``--traces`` the points of the crystals hit (or of
``--trace-crystals``) also go through the event simulator into ``DIR`` (the ``gpsa simulate``
layout). A separate command rather than options of ``gpsa simulate``, whose ``--geometry``,
``--crystals`` and ``--events`` mean other things.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from gpsa.cli.output import print_json, print_line, print_table
from gpsa.errors import ConfigError

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("transport", help="gamma-ray transport of a source through the "
                              "array (interaction points as truth)",
                              description="Track gamma rays from a source at the array centre "
                              "through the germanium crystals; write the interaction points.")
    p.add_argument("--source", required=True, help="co60, cs137 or line:E[,E2,...] (keV)")
    p.add_argument("--decays", "--photons", dest="decays", type=int, required=True,
                   help="number of decays (each emits every line of the source once)")
    p.add_argument("--out", required=True, metavar="FILE", help="points file (HDF5)")
    p.add_argument("--geometry", metavar="DIR", help="folder with the A180 asolid/aeuler/aclust "
                   "tables (default: synthetic shell)")
    p.add_argument("--shell", type=int, default=60, metavar="N",
                   help="crystals on the synthetic shell (default 60)")
    p.add_argument("--radius", type=float, default=235.0, metavar="MM",
                   help="shell radius to the crystal front faces, mm (default 235)")
    p.add_argument("--crystals", help="subset: ids, names, ranges, e.g. 0-5,00B (default all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rayleigh", action="store_true", help="Rayleigh scattering on")
    p.add_argument("--activity", type=float, default=1000.0, metavar="HZ",
                   help="source activity for the decay timestamps (default 1000 Hz)")
    p.add_argument("--basis", metavar="FILE", help="basis for traces of the points")
    p.add_argument("--traces", metavar="DIR", help="write traces of the points here")
    p.add_argument("--trace-crystals", help="crystals to make traces for (default: all hit)")
    p.add_argument("--noise", type=float, default=2.0, help="trace noise, rms keV")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_transport)


def _geometry(args: argparse.Namespace) -> Any:
    from gpsa.simulate.transport import ArrayGeometry

    if args.geometry:
        return ArrayGeometry.from_tables(args.geometry, args.crystals)
    return ArrayGeometry.shell(args.shell, args.radius, args.crystals)


def run_transport(args: argparse.Namespace) -> int:
    import numpy as np

    from gpsa.paths import check_output_file
    from gpsa.simulate.transport import (
        TransportConfig,
        line_summary,
        parse_source,
        transport_source,
    )

    if args.decays < 1:
        raise ConfigError(f"--decays must be >= 1, got {args.decays}")
    if bool(args.basis) != bool(args.traces):
        raise ConfigError("--basis and --traces go together")
    check_output_file(args.out)
    source = parse_source(args.source)
    geom = _geometry(args)
    config = TransportConfig(rayleigh=args.rayleigh, activity_hz=args.activity)
    t0 = time.perf_counter()
    result = transport_source(geom, source, args.decays, seed=args.seed, config=config)
    dt = time.perf_counter() - t0
    result.write(args.out)
    summary = {"out": args.out, "geometry": geom.source, "crystals": len(geom),
               "source": source.name, "decays": args.decays, "seconds": round(dt, 3),
               **line_summary(result)}
    if args.traces:
        summary["traces"] = _traces(args, result, geom, np)
    if args.json:
        print_json(summary)
        return 0
    print_line(f"{args.decays} decays of {source.name} through {geom.source} "
               f"({len(geom)} crystals): {result.n_points} points in {dt:.2f} s -> {args.out}")
    print_table("per line (calorimetric, whole array)",
                ["keV", "gammas", "interacted", "photopeak eff.", "P/T"],
                [[f"{r['energy_kev']:g}", r["gammas"], f"{r['interacted']:.4f}",
                  f"{r['photopeak_efficiency']:.4f}", f"{r['peak_to_total']:.4f}"]
                 for r in summary["lines"]])
    if args.traces:
        print_line(f"traces of {len(summary['traces']['crystals'])} crystals -> {args.traces}")
    return 0


def _traces(args: argparse.Namespace, result: Any, geom: Any, np: Any) -> dict[str, Any]:
    from gpsa.basis.grid import BasisGrid
    from gpsa.basis.io import load_basis
    from gpsa.simulate import SimConfig
    from gpsa.simulate.transport import parse_crystals
    from gpsa.simulate.transport.bridge import write_traces

    if args.trace_crystals:
        ids = parse_crystals(args.trace_crystals, int(geom.crystal_ids.max()) + 1) or []
    else:
        ids = np.unique(result.points["crystal_id"]).astype(int).tolist()
    grid = BasisGrid.from_basis(load_basis(args.basis))
    manifest = write_traces(args.traces, result, {int(c): grid for c in ids},
                            config=SimConfig(noise_kev=args.noise), seed=args.seed)
    return {"dir": args.traces, "crystals": manifest["crystals"]}
