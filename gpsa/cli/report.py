"""``gpsa report RUN``: PNG plots and one self-contained HTML page about a finished run (hit
positions, spectra, multiplicity, PSA vs truth for simulated runs, throughput per stage and
over time, alarms). See docs/report.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("report", help="plots and an HTML page about a finished run",
                       description="Write PNG plots and one self-contained HTML page about the "
                       "run in RUN (a run's output folder). Needs matplotlib (the plot extra).")
    p.add_argument("run", type=Path, metavar="RUN", help="the run's output folder")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where to write the page and the PNGs (default RUN/report)")
    p.add_argument("--summary", type=Path, default=None, metavar="FILE",
                   help="a saved `gpsa run --json` output: its alarms go in the report")
    p.add_argument("--redis", default=None, metavar="URL",
                   help="read the monitor's history of the run from this Central Memory "
                   "(throughput and queue depth over time)")
    p.add_argument("--run-name", default=None, metavar="NAME",
                   help="the run's name in the Central Memory (default: RUN's folder name)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=report)


def report(args: argparse.Namespace) -> int:
    from gpsa.report import write_report

    result = write_report(args.run, args.out, summary_file=args.summary, redis=args.redis,
                          run_name=args.run_name)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print(f"gpsa report: {result.page} ({len(result.figures)} plots)")
        for note in result.notes:
            print(f"gpsa: note: left out: {note}")
    return 0
