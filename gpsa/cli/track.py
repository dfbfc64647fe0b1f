"""``gpsa track``: gamma-ray tracking of built events or of an interaction-truth table, with the
tracking counters and a photopeak efficiency / peak-to-total table before and after tracking.

::

    gpsa track events.adf --lines 1173.2,1332.5 --emitted 100000 [--out tracked.adf]
    gpsa track truth.npz [--noise-mm 5] [--distance-mm 5]
    gpsa track co60.h5 --inner-radius 235 [--noise-mm 2]     # a `gpsa transport` file
    gpsa track --toy 5000 --lines 1173.2,1332.5 [--write-truth truth.npz]

An ``.adf`` input holds event:data:psa frames (the event builder's output); a ``.npz`` input is
a truth table (:mod:`gpsa.tracking.truthfile`), an ``.h5`` input the transport's points file
(tracked on the true lab positions, ``--noise-mm`` smears them); ``--toy N`` tracks N events of
the toy Compton-chain generator (:mod:`gpsa.tracking.toymc`). Settings: ``docs/tracking.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.errors import ConfigError


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") \
            from None


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("track", help="track gamma rays; efficiency and peak-to-total",
                              description=__doc__.splitlines()[0])
    p.add_argument("input", nargs="?", help="ADF file of event:data:psa frames, a truth .npz or a "
                   "`gpsa transport` .h5 file")
    p.add_argument("--toy", type=int, metavar="N", help="track N toy events instead of a file")
    p.add_argument("--lines", type=_floats, metavar="E1,E2", help="source lines, keV (a truth "
                   "table knows its own)")
    p.add_argument("--emitted", type=int, help="gammas emitted per line (ADF input)")
    p.add_argument("--window", type=float, default=3.0, help="peak window, ± keV (default 3)")
    p.add_argument("--threshold", type=float, default=10.0,
                   help="P/T counts entries from this energy, keV (default 10)")
    p.add_argument("--noise-mm", type=float, default=0.0, help="Gaussian noise added to truth "
                   "positions, mm per coordinate")
    p.add_argument("--distance-mm", type=float, default=5.0, help="a tracked first point "
                   "within this distance of the true one is 'found' (default 5)")
    p.add_argument("--alpha", type=float, default=10.0, help="cone angle, degrees")
    p.add_argument("--rule", choices=("seed", "link"), default="link")
    p.add_argument("--max-cluster", type=int, default=8)
    p.add_argument("--resolution-mm", type=float, default=5.0, help="position resolution, mm")
    p.add_argument("--min-fom", type=float, default=0.05)
    p.add_argument("--inner-radius", type=float, help="inner radius of the germanium, mm")
    p.add_argument("--lab-transform", metavar="CRMAT", help="ADF positions are in the crystal "
                   "frame: transform them with this crmat table")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the tracked events as data:tracked ADF")
    p.add_argument("--write-truth", help="(--toy) write the toy's truth table here")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run_track)


def _tracker(args: argparse.Namespace) -> Any:
    from gpsa.tracking.tracker import Tracker, TrackingSettings

    inner = args.inner_radius
    if inner is None and args.toy:
        inner = 150.0  # the toy shell's inner radius (gpsa.tracking.toymc defaults)
    return Tracker(TrackingSettings(alpha_deg=args.alpha, rule=args.rule,
                                    max_cluster=args.max_cluster,
                                    position_resolution_mm=args.resolution_mm,
                                    min_fom=args.min_fom, inner_radius_mm=inner))


def _from_adf(args: argparse.Namespace, tracker: Any) -> dict[str, Any]:
    from gpsa.adf import AdfWriter, iter_blocks
    from gpsa.adf.codecs.tracked import TrackedBlock
    from gpsa.globallevel.frames import AGATA_KEY, built_from_frames
    from gpsa.tracking.events import TrackingCounters, track_built

    lab = None
    if args.lab_transform:
        from gpsa.detector.transforms import load_crmat

        lab = load_crmat(args.lab_transform)
    counters, parts, crystal_sums, event_sums, tracked = TrackingCounters(), [], [], [], []
    for block in iter_blocks(args.input):
        frames = block.values.get(AGATA_KEY)
        if frames is None:
            continue
        built = built_from_frames(frames)
        out, _, counts = track_built(built, tracker, lab)
        counters.add(counts)
        parts.append(out)
        h = built.crystals.hits
        e = h.energy.astype(np.float64)
        crystal_sums.append(np.bincount(h.event_index, e, minlength=len(built.crystals)))
        ev = np.repeat(np.arange(len(built)), built.sizes)[h.event_index]
        event_sums.append(np.bincount(ev, e, minlength=len(built)))
        tracked.append(out.gammas.energy.astype(np.float64))
    if args.out and parts:
        with AdfWriter(args.out) as w:
            w.write(TrackedBlock.concat(parts))
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0))  # noqa: E731
    if not args.lines or args.emitted is None:
        raise ConfigError("gpsa track: an ADF input needs --lines and --emitted")
    return {"counters": counters, "spectra": {"crystal sum": cat(crystal_sums),
                                              "event sum": cat(event_sums),
                                              "tracked": cat(tracked)},
            "lines": list(args.lines), "emitted": [args.emitted] * len(args.lines)}


def _from_truth(args: argparse.Namespace, tracker: Any, truth: Any) -> dict[str, Any]:
    from gpsa.tracking.truthtrack import track_truth

    out = track_truth(truth, tracker, noise_mm=args.noise_mm, seed=args.seed,
                      distance_mm=args.distance_mm)
    return {"counters": out.counters, "spectra": out.spectra, "lines": out.lines_kev,
            "emitted": out.emitted, "first_found": out.first_found}


def run_track(args: argparse.Namespace) -> int:
    from gpsa.tracking.efficiency import figures, format_table
    from gpsa.tracking.truthfile import TRANSPORT_SUFFIXES, from_toy, read_truth, write_truth

    if (args.input is None) == (args.toy is None):
        raise ConfigError("gpsa track: give an input file or --toy N (one of them)")
    tracker = _tracker(args)
    if args.toy is not None:
        from gpsa.tracking.toymc import generate

        if not args.lines:
            raise ConfigError("gpsa track --toy: give the lines with --lines")
        truth = from_toy(generate(args.toy, args.lines, seed=args.seed))
        if args.write_truth:
            write_truth(args.write_truth, truth)
        result = _from_truth(args, tracker, truth)
    elif Path(args.input).suffix.lower() in (".npz", *TRANSPORT_SUFFIXES):
        result = _from_truth(args, tracker, read_truth(args.input))
    else:
        result = _from_adf(args, tracker)
    rows = figures(result["spectra"], result["lines"], result["emitted"],
                   window_kev=args.window, threshold_kev=args.threshold)
    if args.json:
        print(json.dumps({"counters": result["counters"].as_dict(),
                          "figures": [vars(r) for r in rows],
                          "first_found": result.get("first_found"),
                          "attenuation": tracker.grid.source}, indent=2))
        return 0
    for line in result["counters"].lines():
        print(line)
    print()
    for line in format_table(rows):
        print(line)
    if "first_found" in result:
        print(f"\nfirst interaction found (within {args.distance_mm:g} mm): "
              f"{100 * result['first_found']:.1f} %")
    return 0
