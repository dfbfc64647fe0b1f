"""``gpsa demo [--out DIR]``: simulate a few crystals from a small generated basis, run the local
chain on them, print the summary and how close the PSA hits are to the truth.

``gpsa demo --global [--decays N] [--geometry DIR]``: a 60Co source through the transport,
traces, the local chain, sorter, builder and tracking (:mod:`gpsa.runtime.demo_global`); prints
the counters and the efficiency / P/T table from PSA and from true positions."""

from __future__ import annotations

import argparse
from pathlib import Path

from gpsa.cli.output import print_line, print_table
from gpsa.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="simulate crystals and run the whole chain on them",
                       description="Generate two small physical bases (AGATA shape A; the "
                       "events come from the second, made with other settings), simulate "
                       "crystals, run preprocessing, PSA and post-PSA, write data:psa (and a "
                       "ROOT tree), then compare the hits with the simulation truth. Needs no "
                       "server and no download.")
    p.add_argument("--out", default="demo", metavar="DIR",
                   help="working folder (default ./demo)")
    p.add_argument("--crystals", type=int, default=None, choices=range(1, 7), metavar="N",
                   help="crystals to simulate, 1-6 (default 3; 4 with --global)")
    p.add_argument("--events", type=int, default=2000, help="events per crystal (default 2000)")
    p.add_argument("--mode", choices=("simple", "parallel"), default="parallel")
    p.add_argument("--jobs", "-j", type=int, default=2, metavar="N")
    p.add_argument("--psa", default=None, metavar="NAME", help="PSA algorithm (default "
                   "grid-search)")
    p.add_argument("--redis", action="store_true",
                   help="run it through the Central Memory: an embedded Redis, streams after "
                   "preprocessing and after PSA, and 2 `gpsa worker psa` processes per crystal "
                   "(same outputs as without)")
    p.add_argument("--global", dest="global_", action="store_true",
                   help="source to tracked spectra: 60Co through `gpsa transport` on --crystals "
                   "crystals of shape A, traces, the local chain, time sorter, event builder, "
                   "tracking; efficiency / P/T from PSA and from true positions")
    p.add_argument("--decays", type=int, default=100000, help="(--global) 60Co decays "
                   "(default 100000)")
    p.add_argument("--geometry", metavar="DIR", help="(--global) A180 tables asolid/aeuler/"
                   "aclust (default: gpsa's synthetic shell of 60 crystals at 235 mm)")
    p.add_argument("--seed", type=int, default=1, help="(--global) transport and noise seed")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gpsa.cli.run import execute
    from gpsa.config.resolve import resolve_config
    from gpsa.paths import check_writable
    from gpsa.runtime.demo import compare_with_truth, prepare_demo

    out = check_writable(args.out)  # before generating bases
    if args.global_:
        if args.redis:
            raise UsageError("gpsa demo: --global and --redis do not go together")
        return run_global_demo(args, out)
    args.crystals = args.crystals or 3
    print_line(f"gpsa demo: {args.crystals} crystal(s) x {args.events} events in {out}/")
    conf = prepare_demo(out, crystals=args.crystals, events=args.events)
    cfg = resolve_config(conf, psa=args.psa)
    if args.redis:
        from gpsa.runtime.demo_central import run_central_demo

        code, cfg = run_central_demo(conf, out, quiet=args.quiet)
    else:
        code = execute(cfg, mode=args.mode, jobs=args.jobs, quiet=args.quiet)
    rows = []
    for name, c in cfg.crystals.items():
        if (c.output_dir / "psa.adf").exists() and (c.output_dir / "truth.h5").exists():
            r = compare_with_truth(c.output_dir)
            rows.append([name, r["events"], f"{r['median_mm']:.1f}", f"{r['p90_mm']:.1f}",
                         str(c.output_dir)])
    print_table("PSA vs truth (distance of energy-weighted hit centroids)",
                ["crystal", "events", "median mm", "90% mm", "outputs"], rows)
    print_line(f"configuration: {conf}  (re-run with: gpsa run {conf})")
    return code


def run_global_demo(args: argparse.Namespace, out: Path) -> int:
    """``gpsa demo --global``: prepare, run, compare, print."""
    import time

    from gpsa.cli.run import execute
    from gpsa.config.resolve import resolve_config
    from gpsa.runtime.demo_global import prepare_global_demo
    from gpsa.runtime.demo_tracking import compare, table_rows

    t0 = time.perf_counter()
    args.crystals = args.crystals or 4
    print_line(f"gpsa demo --global: {args.decays} decays of 60Co, {args.crystals} crystal(s) "
               f"in {out}/")
    demo = prepare_global_demo(out, crystals=args.crystals, decays=args.decays,
                               geometry=args.geometry, seed=args.seed)
    print_line(f"transport through {demo.geometry}: crystals {', '.join(demo.crystals)} -> "
               f"{demo.transport}")
    cfg = resolve_config(demo.run, psa=args.psa)
    code = execute(cfg, mode=args.mode, jobs=args.jobs, quiet=args.quiet)
    if code != 0:
        return code
    comp = compare(demo.folder / "out", demo.transport)
    print_table(f"Photopeak efficiency and P/T, {comp['decays']} decays (true positions vs "
                "PSA positions)", ["spectrum", "line keV", "positions", "peak", "eff %",
                                   "P/T %"], table_rows(comp))
    for side in ("true", "psa"):
        found = comp[side]["first_found"]
        if found is not None:
            print_line(f"first interaction found within {comp['distance_mm']:g} mm ({side} "
                       f"positions): {100 * found:.1f} %")
    print_line(f"gpsa demo --global: {time.perf_counter() - t0:.1f} s; configuration: "
               f"{demo.run} (re-run with: gpsa run {demo.run})")
    return 0
