"""``gpsa monitor [RUN]``: a live view of a run: crystals × stages (events, rate, queue depth,
errors), the workers (host, device, heartbeat age) and the alarms.

It reads the run's snapshots from the Central Memory (``--redis URL``, else
``GPSA_REDIS_URL``, else the local server of ``gpsa redis start``; ``RUN`` is the run's name,
default: the run that published last), or scrapes processes' ``/metrics`` endpoints
(``--url``, repeatable). In a terminal the screen is redrawn in place (rich ``Live``);
otherwise (Docker logs, pipes) the tables are printed as plain lines every ``--interval``
seconds. See docs/monitoring.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from gpsa.cli.output import is_terminal
from gpsa.errors import ConfigError, UsageError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("monitor", help="live view of a run: rates, queues, errors, workers, "
                       "alarms", description="Show a running gpsa run from its snapshots in the "
                       "Central Memory or from its /metrics endpoints.")
    p.add_argument("run", nargs="?", default=None, metavar="RUN",
                   help="the run's name ([run] run_name, default the output folder's name; a "
                   "batch run's name); default: the run that published last")
    p.add_argument("--redis", metavar="URL", default=None,
                   help="Central Memory URL (default: GPSA_REDIS_URL, else the local server)")
    p.add_argument("--url", action="append", default=[], metavar="URL",
                   help="scrape this /metrics endpoint instead (repeatable)")
    p.add_argument("--interval", type=float, default=2.0, metavar="S",
                   help="seconds between screens (default 2)")
    p.add_argument("--seconds", type=float, default=None, metavar="S",
                   help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--once", action="store_true", help="print one screen and exit")
    p.add_argument("--json", action="store_true", help="print the latest snapshots as JSON")
    p.set_defaults(func=monitor)


def _source(args: argparse.Namespace) -> tuple[Any, str]:
    from gpsa.monitor.sources import MetricsSource, RedisSource, latest_run

    if args.url:
        return MetricsSource(args.url), ", ".join(args.url)
    from gpsa.central.connection import connect, resolve_url, safe_url
    from gpsa.central.server import running_url

    url = resolve_url(args.redis) or running_url()
    if not url:
        raise ConfigError("gpsa monitor: give --redis URL (or GPSA_REDIS_URL, or start "
                          "`gpsa redis start`), or --url http://HOST:PORT/metrics")
    client = connect(url)
    run = args.run or latest_run(client)
    if run is None:
        raise ConfigError(f"gpsa monitor: no run has published snapshots to {safe_url(url)}")
    return RedisSource(client, run), f"run {run}"


def monitor(args: argparse.Namespace) -> int:
    from gpsa.monitor import view

    if args.interval <= 0:
        raise UsageError(f"--interval {args.interval}: must be > 0")
    source, title = _source(args)
    end = time.monotonic() + args.seconds if args.seconds is not None else None
    live = None
    try:
        if is_terminal(sys.stdout) and not (args.once or args.json):
            from rich.console import Console
            from rich.live import Live

            live = Live(console=Console(file=sys.stdout), auto_refresh=False)
            live.start()
        first = True
        while True:
            snaps = source.poll(0.0 if first and not args.url else
                                (0.2 if first else args.interval))
            first = False
            batch = source.batch_workers()
            if args.json:
                json.dump({"snapshots": list(snaps.values()), "batch_workers": batch},
                          sys.stdout, indent=2)
                sys.stdout.write("\n")
            elif live is not None:
                live.update(view.rich_view(snaps, batch, title), refresh=True)
            else:
                sys.stdout.write(view.plain(snaps, batch, title))
                sys.stdout.flush()
            if args.once or args.json or (end is not None and time.monotonic() >= end):
                return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if live is not None:
            live.stop()
        source.close()
