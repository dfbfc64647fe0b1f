"""``gpsa run CONF``: check the run, run the local chain of each crystal, print the summary.

Before any data is read the configuration is checked as ``gpsa config check`` does
(:mod:`gpsa.runtime.preflight`). Exit codes (the convention of every command, see the README):
0 done; 2 bad configuration, usage or device (nothing was read); 1 a data or runtime error (the
message names crystal, actor, block and events; everything before it is written); 130
interrupted by Ctrl-C, 143 by SIGTERM, after writing what was complete within ``stop_timeout``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from gpsa.cli.config import add_selection_args
from gpsa.cli.output import print_json, print_line, print_table
from gpsa.cli.progress import progress_for
from gpsa.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from gpsa.config.resolve import RunConfig
    from gpsa.runtime.global_run import GlobalResult
    from gpsa.runtime.modes import RunReport
    from gpsa.runtime.stats import ChainResult


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="run the local processing chain on one or more crystals",
                       description="Read each crystal's input, preprocess, run PSA and post-PSA, "
                       "write the outputs. The configuration is checked before any data is read.")
    add_selection_args(p)
    p.add_argument("--mode", choices=("simple", "parallel"), default="simple",
                   help="simple: crystals one after the other in this process; parallel: one "
                   "process per crystal (default: simple)")
    p.add_argument("--jobs", "-j", type=int, default=2, metavar="N",
                   help="worker processes in parallel mode, at least 1, at most the CPU cores "
                   "(default 2)")
    p.add_argument("--stop-timeout", type=float, default=None, metavar="S",
                   help="seconds from Ctrl-C or SIGTERM to the exit (default: the run file's "
                   "[run] stop_timeout, else 5)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gpsa.config.resolve import resolve_config
    from gpsa.device import parse_device, select_device
    from gpsa.runtime.modes import effective_jobs
    from gpsa.runtime.preflight import preflight

    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    cfg = resolve_config(args.conf, crystals=args.crystal, output=args.out, device=args.device,
                         psa=args.psa, stop_timeout=args.stop_timeout)
    request = next(iter(cfg.crystals.values())).device
    chosen = select_device(request, stream=sys.stderr)  # DeviceError: one line, exit 2
    # cuda:N stays; cuda (and auto that found CUDA) spreads over [run] gpus in the run modes
    device = chosen.request if parse_device(request)[1] is not None else chosen.kind
    for c in cfg.crystals.values():
        c.device = device
    with central_memory(cfg, args.redis):
        warnings = preflight(cfg)
        if cfg.global_chain is not None:
            from gpsa.runtime.global_run import check_global

            warnings += check_global(cfg.global_chain)
        for warning in warnings:
            print(f"gpsa: warning: {warning}", file=sys.stderr)
        if any(st.actor == "trigger-gate" and st.settings.get("source") == "file"
               for c in cfg.crystals.values() for st in c.stages):
            from gpsa.cli.trigger import fast_path_first

            fast_path_first(cfg, quiet=args.quiet)  # the decisions the gates read
        jobs = args.jobs
        if args.mode == "parallel":
            jobs, note = effective_jobs(args.jobs, len(cfg.crystals))
            if note:
                print(f"gpsa: note: {note}", file=sys.stderr)
        announce_metrics(cfg, args.mode, jobs)
        return execute(cfg, mode=args.mode, jobs=jobs, quiet=args.quiet, as_json=args.json)


def announce_metrics(cfg: RunConfig, mode: str, jobs: int) -> None:
    """Where the run's /metrics endpoints are, when ``[run] metrics_port`` is set."""
    import socket

    port = next(iter(cfg.crystals.values())).monitor.metrics_port
    if not port:
        return
    host = socket.gethostname()
    if mode == "parallel":
        where = ", ".join(f"http://{host}:{port + i}/metrics" for i in range(jobs))
    else:
        where = f"http://{host}:{port}/metrics"
    print(f"gpsa: note: metrics on {where}", file=sys.stderr)


def uses_central_memory(stage: Any) -> bool:
    """A stream actor, or a soft-trigger gate reading its decisions from Redis."""
    return stage.actor.startswith("redis-") or (
        stage.actor == "trigger-gate" and stage.settings.get("source") == "redis")


@contextlib.contextmanager
def central_memory(cfg: RunConfig, cli_url: str | None) -> Iterator[str]:
    """When a stage uses the Central Memory: its URL (``--redis``, GPSA_REDIS_URL, the run
    file's), checked, else the local or an embedded server (in OUTPUT/redis, stopped at the
    end), set on every crystal; yields "" when no stage needs one."""
    from pathlib import Path

    from gpsa.central.connection import open_central, resolve_url

    crystals = list(cfg.crystals.values())
    if not any(uses_central_memory(st) for c in crystals for st in c.stages):
        yield ""
        return
    url = resolve_url(cli_url, crystals[0].redis)
    with open_central(url, Path(cfg.settings["output"]) / "redis") as central:
        for c in crystals:
            c.redis = central
        yield central


def execute(cfg: RunConfig, *, mode: str = "simple", jobs: int = 1, quiet: bool = False,
            as_json: bool = False) -> int:
    """Run a checked configuration and print the summary; returns the exit code."""
    from gpsa.runtime.modes import run_parallel, run_simple
    from gpsa.runtime.signals import exit_code_for, graceful_stop

    stop = threading.Event()
    glob: GlobalResult | None = None
    with graceful_stop(stop) as received:
        with progress_for(list(cfg.crystals), quiet=quiet) as prog:
            if mode == "parallel":
                report = run_parallel(cfg, jobs=jobs, stop=stop, progress=prog)
            else:
                report = run_simple(cfg, stop=stop, progress=prog)
        if cfg.global_chain is not None:  # then the global chain, over what completed
            from gpsa.runtime.global_run import run_global

            glob = run_global(cfg.global_chain, {o.crystal: o.status for o in report.outcomes},
                              stop=stop)
    if as_json:
        summary = {"wall_seconds": report.wall_seconds, "crystals": [
            {"crystal": o.crystal, "status": o.status, "error": o.error,
             "result": o.result.to_dict() if o.result else None} for o in report.outcomes]}
        if glob is not None:
            summary["global"] = {**glob.to_dict(), "summary": str(glob.summary_path)}
        if any(c.monitor.alarms for c in cfg.crystals.values()):
            summary["alarms"] = report.alarms
        print_json(summary)
    else:
        print_summary(report)
        if glob is not None:
            print_global_summary(glob)
        for a in report.alarms:
            print_line(f"alarm {a['alarm']}: crystal {a['crystal']}: {a['metric']} "
                       f"{a['value']:g} {a['condition']} {a['threshold']:g} at {a['fired']}"
                       + (f", cleared {a['cleared']}" if a["cleared"] else ""))
    for o in report.outcomes:
        if o.error:
            print(f"gpsa: error: {o.error}", file=sys.stderr)
    if glob is not None and glob.error and glob.status == "failed":
        print(f"gpsa: error: {glob.error}", file=sys.stderr)
    return (report.exit_code or (glob.exit_code if glob is not None else 0)
            or exit_code_for(received))


def print_summary(report: RunReport) -> None:
    """Per-crystal and per-actor tables."""
    rows = []
    for o in report.outcomes:
        r = o.result
        rows.append([o.crystal, o.status, r.events_in if r else "-", r.events_out if r else "-",
                     r.events_not_done if r else "-", f"{r.wall_seconds:.2f}" if r else "-",
                     f"{r.rate:,.0f}" if r else "-"])
    print_table("Crystals", ["crystal", "status", "read", "written", "not done", "seconds",
                             "events/s"], rows)
    print_table("Actors (all crystals)", ["stage", "kind", "workers", "blocks", "events",
                                          "busy s", "events/busy s", "share"],
                _actor_rows(o.result for o in report.outcomes if o.result))
    for o in report.outcomes:
        for st in o.result.stats if o.result else []:
            counts = {k: v for k, v in st.counters.items() if v}
            if counts:
                print_line(f"{o.crystal} {st.label}: " + ", ".join(
                    f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items()))
    total = sum(o.result.events_out for o in report.outcomes if o.result)
    rate = total / report.wall_seconds if report.wall_seconds else 0.0
    print_line(f"{total} events in {report.wall_seconds:.2f} s ({rate:,.0f} events/s)")


def print_global_summary(res: GlobalResult) -> None:
    """The global step's counters as AGATA prints them: frames per crystal into the sorter
    (late, out of order), events by fold, the merger's events, every stage's counters."""
    c = res.counters
    sorter = c.get("sorter", {})
    cols = ("frames_in", "late", "out_of_order", "gaps", "wraps")
    print_table("Global inputs (time sorter)", ["crystal", "status", "frames in", "late",
                                                "out of order", "gaps", "wraps"],
                [[i.crystal, i.status if i.used else f"missing ({i.reason})",
                  *(sorter.get(f"{k}_per_crystal", {}).get(i.crystal, "-") for k in cols)]
                 for i in res.inputs])
    builder = c.get("builder")
    if builder:
        print_table("Events built by fold", ["fold", "events"],
                    [[k, v] for k, v in builder["events_by_fold"].items()])
        print_line(f"{builder['stage']}: {builder['events_built']:,} events built, "
                   f"{builder['events_rejected_min_fold']:,} rejected by MinFold, "
                   f"{builder['events_out']:,} passed on")
    merger = c.get("merger")
    if merger:
        print_line(f"{merger['stage']}: {merger['events_merged']:,} merged, "
                   f"{merger['events_agata_only']:,} AGATA only, "
                   f"{merger['events_ancillary_only']:,} ancillary only, "
                   f"{merger['events_rejected_min_fold']:,} rejected by MinFold, "
                   f"{merger['events_out']:,} passed on")
    tracking = c.get("tracking")
    if tracking:
        print_tracking(tracking)
    for key, value in c.get("trigger", {}).items():
        print_line(f"trigger {key}: {value:,}")
    print_table("Global stages", ["stage", "actor", "kind", "blocks in", "events in",
                                  "blocks out", "events out", "busy s"],
                [[s.label, s.actor, s.kind, s.blocks_in, s.events_in, s.blocks_out,
                  s.events_out, f"{s.busy_seconds:.3f}"] for s in res.stages])
    for s in res.stages:
        counts = {k: v for k, v in s.counters.items() if v}
        if counts:
            print_line(f"global {s.label}: " + ", ".join(
                f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items()))
    how = (f"flushed without {', '.join(res.missing)}" if res.flushed else "every crystal")
    print_line(f"global step {res.status} ({how}) in {res.wall_seconds:.2f} s -> "
               f"{res.summary_path}")


def print_tracking(tracking: dict[str, Any]) -> None:
    """AGATA's four tracking counters and, when known, the efficiency / P/T table."""
    for key in ("events_sent_to_tracking", "hits_sent_to_tracking", "gammas_out_of_tracking",
                "events_with_tracked_gammas"):
        print_line(f"{tracking['stage']}: {key.replace('_', ' '):<27} {tracking[key]:,}")
    eff = tracking.get("efficiency")
    if eff:
        print_table(f"Photopeak efficiency and P/T (+-{eff['window_kev']:g} keV, "
                    f"{eff['emitted_per_line']} gammas per line)",
                    ["spectrum", "line keV", "peak", "eff %", "P/T %"],
                    [[r["spectrum"], f"{r['line_kev']:g}", r["peak_counts"], _pct(r["efficiency"]),
                      _pct(r["peak_to_total"])] for r in eff["figures"]])


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _actor_rows(results: Iterable[ChainResult]) -> list[list[object]]:
    from gpsa.runtime.stats import ActorStats

    agg: dict[str, ActorStats] = {}
    for res in results:
        for s in res.stats:
            a = agg.setdefault(s.label, ActorStats(s.label, s.kind, s.workers))
            a.add(s.events, s.busy_seconds, blocks=s.blocks)
    busy = sum(a.busy_seconds for a in agg.values()) or 1.0
    return [[a.label, a.kind, a.workers, a.blocks, a.events, f"{a.busy_seconds:.3f}",
             f"{a.rate:,.0f}" if a.busy_seconds > 0 else "-",
             f"{100 * a.busy_seconds / busy:.0f}%"] for a in agg.values()]
