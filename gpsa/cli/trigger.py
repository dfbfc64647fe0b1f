"""``gpsa trigger CONF``: the soft trigger's fast path over the run's crystals.

Reads every crystal's input with its producer stage only (no preprocessing, no PSA; the traces
are dropped at once, the DAQ core energy kept), sorts all crystals' records in time, builds and
decides events with the settings of the run file's ``trigger-gate`` stage (the same for every
crystal) and publishes the decisions where that stage reads them: ``OUTPUT/trigger/<crystal>.npz``
(``source = "file"``; then ``gpsa run CONF`` runs PSA on the accepted events only — ``gpsa run``
runs this fast path itself first when its gates read files, so one command does both) or the
Central Memory stream ``gpsa:{RUN:CRYSTAL}:decisions`` (``source = "redis"``; ``gpsa run`` may
run at the same time, its gate waiting for the decisions). A summary goes to
``OUTPUT/trigger/trigger.json``. Exit codes as ``gpsa run``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from gpsa.cli.config import add_selection_args
from gpsa.cli.output import print_json, print_line, print_table
from gpsa.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("trigger", help="run the soft trigger's fast path and write decisions",
                       description="Read each crystal's input (producer only, no PSA), sort, "
                       "build and decide events with the trigger-gate stage's settings, and "
                       "publish the decisions for the gate of `gpsa run`.")
    add_selection_args(p)
    p.add_argument("--json", action="store_true", help="print the counters as JSON")
    p.set_defaults(func=run)


def gate_settings(cfg: Any) -> dict[str, Any]:
    """The ``trigger-gate`` stage's settings, the same for every crystal (ConfigError else)."""
    from gpsa.actors.trigger import TRIGGER_KEYS

    found: dict[str, dict[str, Any]] = {}
    for name, c in cfg.crystals.items():
        stages = [st for st in c.stages if st.actor == "trigger-gate"]
        if len(stages) != 1:
            raise ConfigError(f"{cfg.source}: crystal {name}: `gpsa trigger` needs exactly one "
                              f"'trigger-gate' stage, found {len(stages)}")
        found[name] = stages[0].settings
    first_name, first = next(iter(found.items()))
    keys = (*TRIGGER_KEYS, "source", "decisions", "run", "redis")
    for name, s in found.items():
        diff = [k for k in keys if s.get(k) != first.get(k)]
        if diff:
            raise ConfigError(f"{cfg.source}: trigger-gate setting {diff[0]!r} differs between "
                              f"crystals {first_name} and {name}: one trigger decides them all")
    return {k: first[k] for k in keys}


def run_fast_path(cfg: Any, *, redis_url: str | None = None,
                  stop: threading.Event | None = None) -> dict[str, Any]:
    """Run the fast path of a resolved configuration; returns the report (also written to
    ``OUTPUT/<decisions>/trigger.json``)."""
    from gpsa.actors.trigger import TriggerActor
    from gpsa.globallevel.trigger_run import run_inputs
    from gpsa.runtime.actor import RunContext

    stop = stop or threading.Event()
    settings = gate_settings(cfg)
    out_root = Path(cfg.settings["output"])
    names = list(cfg.crystals)
    actor = TriggerActor(**settings, inputs=names)
    extra = {"redis_url": redis_url} if redis_url else {}
    actor.start(RunContext(output_dir=out_root, stop_event=stop, extra=extra))
    scratch = Path(tempfile.mkdtemp(prefix="gpsa-trigger-"))
    producers: list[Any] = []
    try:
        inputs = {}
        for name, c in cfg.crystals.items():
            producer = c.build()[0]  # the producer alone: the fast path runs no filter
            producer.label = c.stages[0].name
            producer.start(RunContext(crystal=name, output_dir=scratch / name,
                                      config_dir=c.config_dir, device=c.device,
                                      stop_event=stop))
            producers.append(producer)
            inputs[name] = iter(producer.produce())
        report = run_inputs(actor.fast, inputs, stop=stop)
    finally:
        for p in producers:
            p.stop()
        actor.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    report["settings"] = actor.trigger_settings()
    report["source"] = settings["source"]
    if settings["source"] == "file":
        folder = actor.decisions_folder(RunContext(output_dir=out_root))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "trigger.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


def fast_path_first(cfg: Any, *, quiet: bool = False) -> None:
    """``gpsa run`` of a run whose ``trigger-gate`` stages read decision files: the fast path
    runs first (as ``gpsa trigger`` would), so one command runs both paths on the same input
    and settings."""
    report = run_fast_path(cfg)
    if not quiet:
        t = report["trigger"]
        print_line(f"soft trigger: {t['events_accepted']} of "
                   f"{t['events_accepted'] + t['events_rejected']} events accepted "
                   f"({report['records']} records in {report['seconds']:.2f} s); the slow path "
                   "runs PSA on those")


def run(args: argparse.Namespace) -> int:
    from gpsa.central.connection import open_central, resolve_url
    from gpsa.config.resolve import resolve_config
    from gpsa.runtime.signals import exit_code_for, graceful_stop

    cfg = resolve_config(args.conf, crystals=args.crystal, output=args.out, device=args.device)
    source = gate_settings(cfg)["source"]
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        url = None
        if source == "redis":
            first = next(iter(cfg.crystals.values()))
            url = stack.enter_context(open_central(
                resolve_url(args.redis, first.redis), Path(cfg.settings["output"]) / "redis"))
        received = stack.enter_context(graceful_stop(stop))
        report = run_fast_path(cfg, redis_url=url, stop=stop)
    if args.json:
        print_json(report)
    else:
        t = report["trigger"]
        print_table("Soft trigger", ["", "accepted", "rejected", "out of order"], [
            ["events", t["events_accepted"], t["events_rejected"], "-"],
            ["crystal events", t["crystal_events_accepted"], t["crystal_events_rejected"],
             t["crystal_events_out_of_order"]]])
        rate = report["records"] / report["seconds"] if report["seconds"] else 0.0
        print_line(f"{report['records']} records in {report['seconds']:.2f} s ({rate:,.0f}/s), "
              f"decisions: {source}")
    return exit_code_for(received)
