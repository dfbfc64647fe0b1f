"""``gpsa simulate``: crystal events from a basis, written as ADF data:crystal files plus truth.

::

    gpsa simulate --basis bases/basis_A.h5 [--basis 00B=bases/basis_B.h5] --crystals 00A,00B
                  --events 10000 --rate 5000 --noise 2 --seed 1 --out sim/
                  [--multiplicity 0.5,0.3,0.2] [--lines 1332.5,1173.2 | --uniform 100,2000]
                  [--crosstalk 0.001] [--geometry default|none|ASOLID_FILE] [--json]

Writes ``OUT/<crystal>/events.adf``, ``OUT/truth.h5`` and ``OUT/manifest.json`` (see
:mod:`gpsa.simulate.writer`).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from gpsa.cli.output import print_json, print_table
from gpsa.errors import ConfigError

log = logging.getLogger(__name__)


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        msg = f"expected comma-separated numbers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("simulate", help="simulate crystal events from a basis",
                              description="Simulate crystal events (int16 traces) from a signal "
                              "basis; write ADF data:crystal files, truth.h5 and a manifest.")
    p.add_argument("--basis", action="append", required=True, metavar="[CRYSTAL=]FILE",
                   help="basis file for all crystals, or CRYSTAL=FILE for one (repeatable)")
    p.add_argument("--crystals", default="00A", help="comma-separated crystal names or ids "
                   "(default 00A)")
    p.add_argument("--events", type=int, required=True, help="events per crystal")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--rate", type=float, default=1000.0, help="mean rate per crystal, Hz")
    p.add_argument("--noise", type=float, default=2.0, help="trace noise, rms keV per sample")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--multiplicity", type=_floats, default=(0.5, 0.3, 0.2), metavar="P1,P2,..",
                   help="probabilities of 1, 2, ... interactions (default 0.5,0.3,0.2)")
    p.add_argument("--step-mm", type=float, default=15.0,
                   help="mean distance between successive interactions, mm")
    p.add_argument("--lines", type=_floats, metavar="E1,E2,..",
                   help="line energies in keV (default 1332.5,1173.2)")
    p.add_argument("--uniform", type=_floats, metavar="LOW,HIGH",
                   help="event energy uniform in [LOW, HIGH] keV instead of lines")
    p.add_argument("--crosstalk", type=float, default=0.0,
                   help="proportional cross-talk between segments (fraction, e.g. 0.001)")
    p.add_argument("--jitter", type=float, default=0.5,
                   help="T0 jitter, uniform within ± samples")
    p.add_argument("--samples", type=int, default=100, help="trace length, samples")
    p.add_argument("--pretrigger", type=int, default=20, help="T0 sample in the trace")
    p.add_argument("--gain", type=float, default=0.25,
                   help="keV per ADC unit of segments and core high gain (channel 37)")
    p.add_argument("--core-low-gain", type=float, default=1.0,
                   help="keV per ADC unit of the core low gain (channel 36)")
    p.add_argument("--baseline", type=float, default=0.0, help="baseline, ADC units")
    p.add_argument("--block-size", type=int, default=1000, help="events per block")
    p.add_argument("--geometry", default="default", metavar="default|none|ASOLID",
                   help="truth points inside gpsa's synthetic crystal shape (default), only "
                   "where the basis grid is complete (none), or inside an A180 asolid shape")
    p.add_argument("--segment-order", choices=("sector-major", "ring-major"),
                   help="convert the bases to this segment order (default: the first basis')")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run_simulate)


def _config(args: argparse.Namespace) -> Any:
    from gpsa.simulate import SimConfig

    kw: dict[str, Any] = {
        "multiplicity": args.multiplicity, "step_mm": args.step_mm, "noise_kev": args.noise,
        "crosstalk": args.crosstalk, "t0_jitter_samples": args.jitter, "n_samples": args.samples,
        "pretrigger": args.pretrigger, "kev_per_adc": args.gain,
        "core_low_gain_kev_per_adc": args.core_low_gain, "baseline_adc": args.baseline,
        "rate_hz": args.rate, "block_size": args.block_size}
    if args.lines and args.uniform:
        raise ConfigError("--lines and --uniform exclude each other")
    if args.lines:
        kw["lines_kev"] = args.lines
    if args.uniform:
        if len(args.uniform) != 2:
            raise ConfigError(f"--uniform needs LOW,HIGH, got {args.uniform}")
        kw.update(energy_mode="uniform", uniform_kev=args.uniform)
    return SimConfig(**kw)


def _basis_map(specs: list[str]) -> tuple[str | None, dict[int, str]]:
    from gpsa.detector import parse_crystal

    default, per_crystal = None, {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if sep and name and not name.startswith(("/", ".")):
            per_crystal[parse_crystal(name)] = path
        elif default is None:
            default = spec
        else:
            raise ConfigError(f"--basis: two default bases ({default}, {spec}); use CRYSTAL=FILE")
    return default, per_crystal


def _geometry(arg: str, letter: str) -> tuple[Any, str]:
    from gpsa.detector import CrystalGeometry

    if arg == "none":
        return None, "none"
    if arg == "default":
        return CrystalGeometry.default(letter), f"default {letter}"
    return CrystalGeometry.from_asolid(arg, letter), f"{arg} {letter}"


def run_simulate(args: argparse.Namespace) -> int:
    from gpsa.basis.grid import BasisGrid
    from gpsa.basis.io import load_basis
    from gpsa.cli.progress import progress_for
    from gpsa.detector import crystal_name, parse_crystal, shape_letter
    from gpsa.paths import check_writable
    from gpsa.simulate import CrystalSpec, write_simulation

    config = _config(args)
    if args.events < 1:
        raise ConfigError(f"--events must be >= 1, got {args.events}")
    check_writable(args.out)  # before loading bases and simulating
    ids = [parse_crystal(c) for c in args.crystals.split(",") if c.strip()]
    default, per_crystal = _basis_map(args.basis)
    grids: dict[str, BasisGrid] = {}
    specs = []
    order = args.segment_order
    for cid in ids:
        path = per_crystal.get(cid, default)
        if path is None:
            raise ConfigError(f"--basis: no basis for crystal {crystal_name(cid)}")
        if path not in grids:
            basis = load_basis(path, segment_order=order)
            order = order or basis.segment_order
            grids[path] = BasisGrid.from_basis(basis)
        grid = grids[path]
        letter = grid.basis.crystal_type if grid.basis.crystal_type in ("A", "B", "C") \
            else shape_letter(cid)
        geometry, label = _geometry(args.geometry, letter)
        specs.append(CrystalSpec(crystal_name(cid), cid, grid, geometry, label))
    names = [s.name for s in specs]
    with progress_for(names, quiet=args.quiet or args.json) as bar:
        manifest = write_simulation(
            args.out, specs, args.events, config=config, seed=args.seed,
            progress=lambda name, n: bar.advance(name, n, args.events),
            extra={"command": "gpsa simulate"})
        for name in names:
            bar.finish(name, "complete")
    if args.json:
        print_json(manifest)
    else:
        rows = [(c["name"], c["crystal_id"], c["events"], c["interactions"], c["saturated"],
                 f"{c['bytes'] / 1e6:.1f}", c["file"]) for c in manifest["crystals"]]
        print_table(f"simulated into {args.out} (seed {args.seed})",
                    ["crystal", "id", "events", "interactions", "saturated", "MB", "file"], rows)
    return 0
