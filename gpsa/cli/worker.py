"""``gpsa worker psa``: one of N processes (any machine, CPU or GPU) doing block-level PSA on a
crystal's Central Memory stream.

It runs the chain ``redis-reader (stream --input) -> psa -> redis-writer (stream --output)`` for
one crystal until the input stream has ended and holds no more work, then exits 0. Start it as
many times as wanted; the blocks are shared through the consumer group, a dead worker's blocks
are taken over by the others, and the last reader (``redis-reader`` with ``ordered = true``)
restores the order and drops blocks processed twice. Example::

    gpsa redis start
    gpsa run split.toml          # simulator/adf-reader -> preprocess -> redis-writer stream=pre
    gpsa worker psa --crystal 00A --basis bases/00A.h5 &     # as many as wanted
    gpsa worker psa --crystal 00A --basis bases/00A.h5 &
    gpsa run merge.toml          # redis-reader stream=psa ordered -> post-psa -> adf-writer

The worker's own run file and provenance go to ``--dir`` (default
``gpsa-worker-HOST-PID``). Exit codes as ``gpsa run``.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from gpsa.cli.options import DEVICE_METAVAR, device_arg
from gpsa.errors import ConfigError

WORKER_TEMPLATE = """\
# written by `gpsa worker psa`
[run]
crystals = ["{crystal}"]
output = "out"
redis = "{redis}"
device = "{device}"

[[stage]]
actor = "redis-reader"
stream = "{input}"
run = "{run}"
claim_idle_ms = {claim_idle_ms}

[[stage]]
actor = "psa"
basis = "{basis}"
{settings}
[[stage]]
actor = "redis-writer"
stream = "{output}"
run = "{run}"
fresh = false
"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("worker", help="a Central Memory worker process (block-level PSA)")
    wsub = p.add_subparsers(dest="worker_kind", metavar="KIND", required=True)
    w = wsub.add_parser("psa", help="PSA of one crystal's stream, shared with other workers",
                        description=__doc__.split("\n\n")[0])
    w.add_argument("--crystal", required=True, metavar="NAME", help="crystal, e.g. 00A")
    w.add_argument("--basis", required=True, metavar="FILE", help="signal basis file")
    w.add_argument("--redis", metavar="URL", default=None,
                   help="shared Redis (default: GPSA_REDIS_URL, else `gpsa redis start`'s)")
    w.add_argument("--run", default="gpsa", help="run name in the stream keys (default gpsa)")
    w.add_argument("--input", default="pre", help="stream to read (default pre)")
    w.add_argument("--output", default="psa", help="stream to write (default psa)")
    w.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a PSA stage setting, e.g. p=2 or search='ags' (repeatable)")
    w.add_argument("--device", type=device_arg, metavar=DEVICE_METAVAR, default="cpu")
    w.add_argument("--claim-idle-ms", type=int, default=10_000, metavar="MS",
                   help="take over blocks a dead worker held this long (default 10000)")
    w.add_argument("--dir", default=None, metavar="DIR", help="the worker's own folder")
    w.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    w.set_defaults(func=run_worker)


def _settings(pairs: list[str]) -> str:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    lines = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE")
        line = f"{key.strip()} = {value.strip()}"
        try:
            tomllib.loads(line)
        except tomllib.TOMLDecodeError:
            line = f"{key.strip()} = {value.strip()!r}".replace("'", '"')
        lines.append(line)
    return "".join(f"{ln}\n" for ln in lines)


def run_worker(args: argparse.Namespace) -> int:
    from gpsa.central.connection import resolve_url
    from gpsa.central.server import running_url
    from gpsa.cli.run import execute
    from gpsa.config.resolve import resolve_config
    from gpsa.device import select_device
    from gpsa.runtime.preflight import preflight

    url = resolve_url(args.redis) or running_url()
    if not url:
        raise ConfigError("gpsa worker needs a shared Redis: --redis URL, GPSA_REDIS_URL, or "
                          "`gpsa redis start`")
    folder = Path(args.dir or f"gpsa-worker-{socket.gethostname()}-{os.getpid()}").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "worker.toml"
    conf.write_text(WORKER_TEMPLATE.format(
        crystal=args.crystal, redis=url, device=args.device, input=args.input,
        output=args.output, run=args.run, claim_idle_ms=args.claim_idle_ms,
        basis=Path(args.basis).resolve(), settings=_settings(args.set)))
    cfg = resolve_config(conf)
    kind = select_device(args.device).kind
    for c in cfg.crystals.values():
        c.device, c.redis = kind, url
    preflight(cfg)
    return execute(cfg, quiet=args.quiet)
