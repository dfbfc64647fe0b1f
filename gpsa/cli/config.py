"""``gpsa config check CONF`` (validate without running) and ``gpsa config show CONF`` (the
resolved per-crystal configuration, as written to the provenance file)."""

from __future__ import annotations

import argparse

from gpsa.cli.output import print_json, print_line, print_table


def add_selection_args(p: argparse.ArgumentParser) -> None:
    """Arguments shared with ``gpsa run`` that change the resolved configuration."""
    p.add_argument("conf", help="run file (TOML) or replay configuration folder")
    p.add_argument("--crystal", action="append", metavar="NAME",
                   help="only this crystal (repeatable)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                   help="compute device (default: the run file's, else cpu)")
    p.add_argument("--psa", metavar="NAME", default=None,
                   help="PSA algorithm of the 'psa' stage (see `gpsa plugins`)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="output root (default: the run file's [run] output)")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("config", help="check or show a run configuration")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser("check", help="validate a configuration without running it",
                            description="Check every key, type, value and input file of a run "
                            "configuration against the registered actors; exit 2 naming the "
                            "first bad key.")
    add_selection_args(check)
    check.set_defaults(func=run_check)
    show = csub.add_parser("show", help="print the resolved configuration")
    add_selection_args(show)
    show.add_argument("--json", action="store_true", help="JSON output")
    show.set_defaults(func=run_show)


def _resolve(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from gpsa.config.resolve import resolve_config

    return resolve_config(args.conf, crystals=args.crystal, output=args.out, device=args.device,
                          psa=args.psa)


def run_check(args: argparse.Namespace) -> int:
    cfg = _resolve(args)
    first = next(iter(cfg.crystals.values()))
    chain = " -> ".join(f"{st.name}" + (f" x{st.workers}" if st.workers > 1 else "")
                        for st in first.stages)
    print_line(f"{cfg.source}: OK, {len(cfg.crystals)} crystal(s) "
               f"({', '.join(cfg.crystals)}): {chain}")
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
