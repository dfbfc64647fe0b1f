"""``gpsa demo [--out DIR]``: simulate a few crystals from a small generated basis, run the local
chain on them, print the summary and how close the PSA hits are to the truth."""

from __future__ import annotations

import argparse

from gpsa.cli.output import print_line, print_table


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="simulate crystals and run the whole chain on them",
                       description="Generate two small physical bases (AGATA shape A; the "
                       "events come from the second, made with other settings), simulate "
                       "crystals, run preprocessing, PSA and post-PSA, write data:psa (and a "
                       "ROOT tree), then compare the hits with the simulation truth. Needs no "
                       "server and no download.")
    p.add_argument("--out", default="demo", metavar="DIR",
                   help="working folder (default ./demo)")
    p.add_argument("--crystals", type=int, default=3, choices=range(1, 7), metavar="N",
                   help="crystals to simulate, 1-6 (default 3)")
    p.add_argument("--events", type=int, default=2000, help="events per crystal (default 2000)")
    p.add_argument("--mode", choices=("simple", "parallel"), default="parallel")
    p.add_argument("--jobs", "-j", type=int, default=2, metavar="N")
    p.add_argument("--psa", default=None, metavar="NAME", help="PSA algorithm (default "
                   "grid-search)")
    p.add_argument("--redis", action="store_true",
                   help="run it through the Central Memory: an embedded Redis, streams after "
                   "preprocessing and after PSA, and 2 `gpsa worker psa` processes per crystal "
                   "(same outputs as without)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gpsa.cli.run import execute
    from gpsa.config.resolve import resolve_config
    from gpsa.paths import check_writable
    from gpsa.runtime.demo import compare_with_truth, prepare_demo

    out = check_writable(args.out)  # before generating bases
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
