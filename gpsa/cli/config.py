"""``gpsa config check CONF`` (validate without running), ``gpsa config show CONF`` (the
resolved per-crystal configuration, as written to the provenance file) and ``gpsa config init
RUN --crystals 00A,00B --basis FILE`` (write an AGATA-style run folder RUN/Conf, RUN/Out);
with the Central Memory (:mod:`gpsa.central.configstore`): ``gpsa config push CONF`` (store the
checked configuration as a new version), ``gpsa config versions|get|diff --name RUN``."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from gpsa.cli.options import DEVICE_METAVAR, device_arg
from gpsa.cli.output import print_json, print_line, print_table


def add_selection_args(p: argparse.ArgumentParser) -> None:
    """Arguments shared with ``gpsa run`` that change the resolved configuration."""
    p.add_argument("conf", help="run file (TOML) or replay configuration folder")
    p.add_argument("--crystal", action="append", metavar="NAME",
                   help="only this crystal (repeatable)")
    p.add_argument("--device", type=device_arg, metavar=DEVICE_METAVAR, default=None,
                   help="compute device (default: the run file's, else cpu)")
    p.add_argument("--psa", metavar="NAME", default=None,
                   help="PSA algorithm of the 'psa' stage (see `gpsa plugins`)")
    p.add_argument("--redis", metavar="URL", default=None,
                   help="Central Memory URL for stream actors (default: GPSA_REDIS_URL, the run "
                   "file's [run] redis, the server of `gpsa redis start`, else an embedded one)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="output root (default: the run file's [run] output)")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("config", help="check or show a run configuration")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser("check", help="validate a configuration without running it",
                            description="Check what the run needs, as `gpsa run` does before "
                            "reading data: every key, type and value against the registered "
                            "actors, input files of the right kind (a basis that loads and fits, "
                            "ADF inputs whose first frames decode, calibration tables that "
                            "parse), writable output folders, optional dependencies and the "
                            "device; exit 2 naming the first problem.")
    add_selection_args(check)
    check.set_defaults(func=run_check)
    show = csub.add_parser("show", help="print the resolved configuration")
    add_selection_args(show)
    show.add_argument("--json", action="store_true", help="JSON output")
    show.set_defaults(func=run_show)
    add_init(csub)
    add_store(csub)


def add_init(csub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = csub.add_parser(
        "init", help="write an AGATA-style run folder (RUN/Conf, RUN/Out)",
        description="Write RUN/Conf/run.toml (the chain adf-reader -> preprocess -> psa -> "
        "post-psa -> adf-writer, every key commented), RUN/Conf/<crystal>/ per crystal "
        "(crystal.toml with gpsa's per-crystal settings, neutral TimeEvoCC.conf, calibration "
        "and cross-talk tables) and RUN/Out/. Then `gpsa simulate ... --out RUN/Data` (or "
        "real data, see --input) and `gpsa run RUN`. Refuses a non-empty RUN unless --force "
        "(which replaces RUN/Conf only). Format: docs/conf-folders.md.")
    p.add_argument("dir", metavar="RUN", help="run folder to create (e.g. run_0001)")
    p.add_argument("--crystals", required=True, metavar="00A,00B,...",
                   help="comma-separated crystal names (or ids): one Conf/<crystal>/ each")
    p.add_argument("--basis", required=True, metavar="FILE",
                   help="signal basis of the psa stage; may hold {crystal} "
                   "(e.g. bases/{crystal}.h5)")
    p.add_argument("--input", metavar="PATTERN", default=None,
                   help="ADF input of each crystal, with {crystal} (default "
                   "RUN/Data/{crystal}/events.adf, where `gpsa simulate --out RUN/Data` writes)")
    p.add_argument("--device", type=device_arg, metavar=DEVICE_METAVAR, default="cpu",
                   help="[run] device (default cpu)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="PSA threads per crystal (default 1)")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty RUN: replace RUN/Conf, keep the rest")
    p.set_defaults(func=run_init)


def run_init(args: argparse.Namespace) -> int:
    from gpsa.config.agata_folder import init_run_folder
    from gpsa.config.agata_render import DATA_FOLDER

    conf = init_run_folder(args.dir, args.crystals.split(","), basis=args.basis,
                           input_pattern=args.input, device=args.device, workers=args.workers,
                           force=args.force)
    crystals = sorted(p.name for p in conf.iterdir() if p.is_dir())
    print_line(f"{conf}: run.toml and {len(crystals)} crystal folder(s) ({', '.join(crystals)}); "
               f"outputs in {conf.parent / 'Out'}")
    if args.input is None:
        print_line(f"input: {conf.parent / DATA_FOLDER}/<crystal>/events.adf, e.g. gpsa simulate "
                   f"--basis {args.basis} --crystals {','.join(crystals)} --events 1000 "
                   f"--out {conf.parent / DATA_FOLDER}")
    print_line(f"then: gpsa run {args.dir}")
    return 0


def _resolve(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from gpsa.config.resolve import resolve_config

    return resolve_config(args.conf, crystals=args.crystal, output=args.out, device=args.device,
                          psa=args.psa)


def run_check(args: argparse.Namespace) -> int:
    """Everything ``gpsa run`` checks before reading data (:mod:`gpsa.runtime.preflight`):
    keys and values, input files of the right kind, writable outputs, optional dependencies,
    the device. Exit 0 (warnings on stderr) or 2 naming the first problem."""
    import sys

    from gpsa.runtime.preflight import preflight

    cfg = _resolve(args)
    warnings = preflight(cfg)
    for w in warnings:
        print(f"gpsa: warning: {w}", file=sys.stderr)
    first = next(iter(cfg.crystals.values()))
    chain = " -> ".join(f"{st.name}" + (f" x{st.workers}" if st.workers > 1 else "")
                        for st in first.stages)
    print_line(f"{cfg.source}: OK, {len(cfg.crystals)} crystal(s) "
               f"({', '.join(cfg.crystals)}): {chain}"
               + (f"; {len(warnings)} warning(s)" if warnings else ""))
    return 0


def run_show(args: argparse.Namespace) -> int:
    cfg = _resolve(args)
    if args.json:
        print_json({name: c.to_dict() for name, c in cfg.crystals.items()})
        return 0
    for name, c in cfg.crystals.items():
        rows = [[st.name, st.actor, st.kind, st.workers,
                 ", ".join(f"{k}={v}" for k, v in st.to_dict()["settings"].items())]
                for st in c.stages]
        print_table(f"crystal {name} -> {c.output_dir}", ["stage", "actor", "kind", "workers",
                                                           "settings"], rows)
    return 0


def add_store(csub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    push = csub.add_parser(
        "push", help="check a configuration and store it as a version in the Central Memory",
        description="Resolve and check CONF as `gpsa config check` does, then store the "
        "resolved configuration of every crystal under gpsa:{RUN}:config:vN with a record "
        "(version, sha256, time, host, source). The content of the latest version again: "
        "nothing stored, that version printed. Keys: docs/central-memory.md.")
    add_selection_args(push)
    push.add_argument("--name", default=None, help="run name (default: the run folder's name)")
    push.set_defaults(func=run_push)
    ver = csub.add_parser("versions", help="list the stored configuration versions of a run")
    get = csub.add_parser("get", help="print a stored configuration version (JSON)")
    dif = csub.add_parser("diff", help="differences between two stored configuration versions")
    for p in (ver, get, dif):
        p.add_argument("--redis", metavar="URL", default=None,
                       help="Central Memory URL (default: GPSA_REDIS_URL, else the server of "
                       "`gpsa redis start`)")
        p.add_argument("--name", required=True, help="run name given at `gpsa config push`")
    ver.add_argument("--json", action="store_true", help="JSON output")
    ver.set_defaults(func=run_versions)
    get.add_argument("--version", dest="config_version", default="latest", metavar="N",
                     help="version number or 'latest' (default)")
    get.set_defaults(func=run_get)
    dif.add_argument("a", metavar="A", help="version number or 'latest'")
    dif.add_argument("b", metavar="B", help="version number or 'latest'")
    dif.add_argument("--unified", action="store_true",
                     help="unified diff of the pretty JSON instead of key paths")
    dif.set_defaults(func=run_diff)


@contextlib.contextmanager
def _store(cli_url: str | None, run_file_url: str | None = None) -> Iterator[Any]:
    """A checked client of the Central Memory (ConfigError, exit 2, naming the URL), closed
    after use; Redis errors become one line naming the URL."""
    import redis

    from gpsa.central.connection import connect, resolve_url, safe_url
    from gpsa.central.server import running_url
    from gpsa.errors import ConfigError, GpsaError

    url = resolve_url(cli_url, run_file_url or None) or running_url()
    if not url:
        raise ConfigError("no Redis for the configuration store: give --redis URL or "
                          "GPSA_REDIS_URL, or start a local one with `gpsa redis start`")
    client = connect(url)
    try:
        yield client
    except redis.RedisError as exc:
        raise GpsaError(f"Redis at {safe_url(url)}: {exc}") from None
    finally:
        client.close()


def run_push(args: argparse.Namespace) -> int:
    import sys

    from gpsa.central import configstore
    from gpsa.runtime.batch import default_name
    from gpsa.runtime.preflight import preflight

    cfg = _resolve(args)
    for w in preflight(cfg):
        print(f"gpsa: warning: {w}", file=sys.stderr)
    name = args.name or default_name(args.conf)
    config = {n: c.to_dict() for n, c in cfg.crystals.items()}
    with _store(args.redis, str(cfg.settings.get("redis") or "")) as client:
        version, digest, new = configstore.push(client, name, config, source=str(cfg.source))
    if new:
        print_line(f"{name}: version {version} (sha256 {digest[:16]})")
    else:
        print_line(f"{name}: unchanged: version {version} (sha256 {digest[:16]})")
    return 0


def run_versions(args: argparse.Namespace) -> int:
    from gpsa.central import configstore

    with _store(args.redis) as client:
        known = configstore.versions(client, args.name)
    if args.json:
        print_json([configstore.as_dict(v) for v in known])
        return 0
    print_table(f"configuration versions of {args.name}",
                ["version", "sha256", "pushed at", "host", "source"],
                [[v.version, v.hash[:16], v.pushed_at, v.host, v.source] for v in known])
    return 0


def run_get(args: argparse.Namespace) -> int:
    from gpsa.central import configstore

    with _store(args.redis) as client:
        _, config = configstore.get(client, args.name, args.config_version)
    print_json(config)
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from gpsa.central import configstore

    with _store(args.redis) as client:
        va, a = configstore.get(client, args.name, args.a)
        vb, b = configstore.get(client, args.name, args.b)
    if args.unified:
        lines = configstore.unified_diff(a, b, (f"v{va.version}", f"v{vb.version}"))
    else:
        lines = configstore.diff(a, b)
    for line in lines or [f"{args.name}: versions {va.version} and {vb.version} are identical"]:
        print_line(line)
    return 0
