"""``gpsa batch init|work|status|report``: a run's crystals as workloads in Redis, done by any
number of workers on any machines (docs/batch.md).

* ``init RUN``: check the run (as ``gpsa config check``, the device left to the workers) and add
  one workload per crystal; ``--then CMD`` is the final step's command.
* ``work``: claim, run, commit (fenced), repeat; exit 0 when the run is finished (every workload
  done or dead-lettered and the final step done), 143 after SIGTERM (the workload held is
  released at once), 130 after Ctrl-C.
* ``status`` and ``report``: per workload and per worker, failures and reassignments.

The Redis URL: ``--redis URL``, else ``GPSA_REDIS_URL``, else (init) the run file's
``[run] redis``, else the local server of ``gpsa redis start``. An unreachable server: one line
naming the URL, exit 2. A batch run is named by ``--name`` at init (default: the run folder's
name); ``--run NAME`` picks it later (default: the one initialised last).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gpsa.cli.options import DEVICE_METAVAR, device_arg
from gpsa.cli.output import print_json, print_line, print_table
from gpsa.errors import ConfigError, GpsaError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from gpsa.central.workqueue import DEFAULT_LEASE, DEFAULT_MAX_REASSIGN

    p = sub.add_parser("batch", help="batch mode: crystal workloads in Redis for workers on "
                       "many machines (init, work, status, report)")
    bsub = p.add_subparsers(dest="batch_command", metavar="ACTION", required=True)

    init = bsub.add_parser("init", help="check a run and put its crystal workloads in Redis")
    init.add_argument("conf", metavar="RUN", help="run file (TOML) or run folder, as gpsa run")
    init.add_argument("--name", default=None, help="batch run name (default: the run "
                      "folder's name)")
    init.add_argument("--crystal", action="append", metavar="NAME",
                      help="only this crystal (repeatable)")
    init.add_argument("--out", metavar="DIR", default=None,
                      help="output root, on a file system the workers share (default: the "
                      "run file's [run] output)")
    init.add_argument("--device", type=device_arg, metavar=DEVICE_METAVAR, default=None,
                      help="device of the workloads (a worker's --device overrides it)")
    init.add_argument("--psa", metavar="NAME", default=None, help="PSA algorithm")
    init.add_argument("--stop-timeout", type=float, default=None, metavar="S",
                      help="seconds from SIGTERM to a worker's exit (default: the run file's)")
    init.add_argument("--lease", type=float, default=DEFAULT_LEASE, metavar="S",
                      help=f"seconds without heartbeat before a workload is reclaimed "
                      f"(default {DEFAULT_LEASE:g})")
    init.add_argument("--max-reassign", type=int, default=DEFAULT_MAX_REASSIGN, metavar="N",
                      help="reassignments of a workload before it is dead-lettered (default "
                      f"{DEFAULT_MAX_REASSIGN}: {DEFAULT_MAX_REASSIGN + 1} deliveries)")
    init.add_argument("--then", metavar="CMD", default=None,
                      help="final step: shell command run in the output root once every "
                      "crystal is done or dead-lettered, after OUT/run-complete.json is written")
    init.add_argument("--force", action="store_true", help="replace a batch run of that name")
    init.set_defaults(func=run_init)

    work = bsub.add_parser("work", help="claim and run workloads until the run is finished")
    work.add_argument("--device", type=device_arg, metavar=DEVICE_METAVAR, default=None,
                      help="device of this worker (default: the workload's)")
    work.add_argument("--quiet", "-q", action="store_true", help="no line per workload")
    work.set_defaults(func=run_work)

    status = bsub.add_parser("status", help="per workload and per worker state")
    status.add_argument("--json", action="store_true", help="JSON output")
    status.set_defaults(func=run_status)

    report = bsub.add_parser("report", help="failed workloads by reason and worker, "
                             "reassignments")
    report.add_argument("--json", action="store_true", help="JSON output")
    report.add_argument("--out", metavar="FILE", default=None,
                        help="also write the report as plain text to FILE")
    report.set_defaults(func=run_report)

    for q in (init, work, status, report):
        q.add_argument("--redis", metavar="URL", default=None,
                       help="Redis URL (default: GPSA_REDIS_URL, else the local server of "
                       "`gpsa redis start`)")
        if q is not init:
            q.add_argument("--run", metavar="NAME", default=None,
                           help="batch run name (default: the one initialised last)")


@contextlib.contextmanager
def _redis_errors(url: str) -> Iterator[None]:
    """A Redis error after the start (the server went away for longer than the retries):
    one line naming the URL, exit 1."""
    import redis

    try:
        yield
    except redis.RedisError as exc:
        raise GpsaError(f"Redis at {url}: {exc}") from None


def _client(cli_url: str | None, run_file_url: str | None = None) -> tuple[Any, str]:
    from gpsa.central.connection import connect, resolve_url, safe_url
    from gpsa.central.server import running_url

    url = resolve_url(cli_url, run_file_url) or running_url()
    if not url:
        raise ConfigError("no Redis for the batch run: give --redis URL or GPSA_REDIS_URL, or "
                          "start a local one with `gpsa redis start`")
    return connect(url), safe_url(url)


def _queue(args: argparse.Namespace) -> tuple[Any, Any, str]:
    from gpsa.central.workqueue import WorkQueue, list_runs

    client, url = _client(args.redis)
    run = args.run
    if run is None:
        runs = list_runs(client)
        if not runs:
            client.close()
            raise ConfigError(f"no batch run in Redis at {url} (gpsa batch init RUN --redis "
                              f"{url})")
        run = max(runs, key=lambda r: r[1])[0]
    return client, WorkQueue(client, run), url


def run_init(args: argparse.Namespace) -> int:
    from gpsa.central.workqueue import WorkQueue
    from gpsa.config.files import read_config
    from gpsa.runtime.batch import default_name, init_batch

    run_url = str(read_config(args.conf).run.get("redis") or "") or None
    client, url = _client(args.redis, run_url)
    with contextlib.closing(client), _redis_errors(url):
        queue = WorkQueue(client, args.name or default_name(args.conf))
        cfg, warnings = init_batch(queue, args.conf, crystals=args.crystal, output=args.out,
                                   device=args.device, psa=args.psa,
                                   stop_timeout=args.stop_timeout, lease=args.lease,
                                   max_reassign=args.max_reassign, then=args.then,
                                   replace_run=args.force)
    for w in warnings:
        print(f"gpsa: warning: {w}", file=sys.stderr)
    print_line(f"batch run {queue.run}: {len(cfg.crystals)} crystal workload(s) "
               f"({', '.join(cfg.crystals)}) in Redis at {url}; lease {args.lease:g} s, "
               f"max_reassign {args.max_reassign}; outputs in {cfg.settings['output']}")
    print_line(f"start workers with: gpsa batch work --redis {url} --run {queue.run}")
    return 0


def run_work(args: argparse.Namespace) -> int:
    import threading

    from gpsa.runtime.batch_worker import BatchWorker
    from gpsa.runtime.signals import exit_code_for, graceful_stop

    client, queue, url = _queue(args)
    stop = threading.Event()

    def say(text: str) -> None:
        if not args.quiet:
            print_line(text)
            sys.stdout.flush()

    with contextlib.closing(client), _redis_errors(url):
        queue.meta()
        with graceful_stop(stop) as received:
            worker = BatchWorker(queue, stop=stop, device=args.device, say=say)
            summary = worker.run()
    s = summary
    say(f"{s.worker}: {'run finished' if s.finished else 'stopped'}: {s.done} done, "
        f"{s.failed} failed, {s.released} released, {s.refused} refused")
    return exit_code_for(received)


def run_status(args: argparse.Namespace) -> int:
    from gpsa.central.workstatus import status

    client, queue, url = _queue(args)
    with contextlib.closing(client), _redis_errors(url):
        st = status(queue.snapshot())
    if args.json:
        print_json(st)
        return 0
    counts = ", ".join(f"{v} {k}" for k, v in sorted(st["counts"].items()))
    print_line(f"batch run {st['run']} ({st['state']}): {counts}; lease "
               f"{st['lease_seconds']:g} s, max_reassign {st['max_reassign']}")
    print_table("Workloads", ["workload", "state", "deliveries", "worker", "events",
                              "events/s", "error"],
                [[r["workload"], r["state"], r["deliveries"], r["worker"] or "-",
                  "-" if r["events"] is None else r["events"],
                  "-" if r["rate"] is None else f"{r['rate']:,.0f}", r["error"] or ""]
                 for r in st["workloads"]])
    print_table("Workers", ["worker", "host", "pid", "device", "state", "heartbeat s",
                            "workload", "events/s", "done", "failed"],
                [[w["worker"], w["host"], w["pid"], w["device"], w["state"],
                  f"{w['heartbeat_age']:.1f}", w["workload"] or "-", f"{w['rate']:,.0f}",
                  w["done"], w["failed"]] for w in st["workers"]])
    return 0


def run_report(args: argparse.Namespace) -> int:
    from gpsa.central.workstatus import report, report_tables, report_text

    client, queue, url = _queue(args)
    with contextlib.closing(client), _redis_errors(url):
        rep = report(queue.snapshot(events=True))
    if args.out:
        from gpsa.paths import atomic_output

        with atomic_output(Path(args.out)) as tmp:
            Path(tmp).write_text(report_text(rep))
    if args.json:
        print_json(rep)
    else:
        print_line(report_text(rep).split("\n\n", 1)[0])
        for title, cols, rows in report_tables(rep):
            print_table(title, cols, rows)
    if args.out:
        print(f"gpsa: report written to {args.out}", file=sys.stderr)
    return 0
