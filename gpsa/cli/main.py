"""``gpsa`` entry point: builds the argument parser from the command modules and maps errors to
one-line messages and exit codes (2 = configuration/usage, 1 = bad input, 130 = interrupted)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from gpsa import __version__
from gpsa.errors import GpsaError

log = logging.getLogger("gpsa")

#: Command modules; each defines ``register(subparsers)`` which adds its sub-command(s) and sets
#: ``func`` (a callable taking the parsed namespace and returning an exit code) on the parser.
COMMAND_MODULES: list[str] = [
    "gpsa.cli.adf",
    "gpsa.cli.run",
    "gpsa.cli.plugins",
    "gpsa.cli.config",
    "gpsa.cli.demo",
    "gpsa.cli.geometry",
    "gpsa.cli.simulate",
    "gpsa.cli.transport",
    "gpsa.cli.bench",
    "gpsa.cli.basis",
    "gpsa.cli.redis_cmd",
    "gpsa.cli.batch",
    "gpsa.cli.worker",
    "gpsa.cli.track",
    "gpsa.cli.trigger",
    "gpsa.cli.monitor",
    "gpsa.cli.report",
    "gpsa.cli.check",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpsa",
        description="Pulse-shape analysis for segmented HPGe detectors (AGATA, GRETA).",
    )
    parser.add_argument("--version", action="version", version=f"gpsa {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except GpsaError as exc:
        print(f"gpsa: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("gpsa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`, which closed early: not an error of ours. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a file the command reads or writes, not a bug: one line, exit 1
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"gpsa: error: {where}{exc.strerror or exc}", file=sys.stderr)
        log.debug("OSError", exc_info=exc)
        return 1


def entry() -> None:  # pragma: no cover - the console script; tests call main()
    """The ``gpsa`` console script: :func:`main`, then the exit. After a bounded stop that
    abandoned an actor still busy in a thread (e.g. inside a numba kernel), the process exits
    with ``os._exit`` once the output is flushed, instead of waiting for that thread."""
    import os
    import threading

    code = main()
    busy = [t for t in threading.enumerate() if t.daemon and t.name.startswith("gpsa-")
            and t.is_alive()]
    if busy:
        log.debug("exiting with %d busy thread(s): %s", len(busy), [t.name for t in busy])
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
