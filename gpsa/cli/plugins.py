"""``gpsa plugins [--json | --markdown]``: installed plugins, their hooks and what they registered.

``--markdown`` prints the settings tables of every registered actor and PSA algorithm, built-in
and installed (:mod:`gpsa.config.reference`; ``docs/run-file.md`` holds the built-in ones).
"""

from __future__ import annotations

import argparse
from typing import Any

from gpsa.cli.output import print_json, print_line, print_table


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("plugins", help="list installed plugins and what they register",
                       description="List the loaded plugins (built-in and installed through the "
                       "'gpsa' entry-point group), their hooks, and the actors, PSA algorithms, "
                       "codecs and basis readers they registered.")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    fmt.add_argument("--markdown", action="store_true",
                     help="settings of every actor and PSA algorithm as markdown tables (type, "
                     "default, choices, meaning), as in docs/run-file.md")
    p.set_defaults(func=run)


def collect() -> list[dict[str, Any]]:
    """Plugins with their registrations (and each actor's or algorithm's parameters)."""
    from gpsa.plugins.catalogue import get_catalogue
    from gpsa.plugins.manager import get_plugin_manager, plugin_info

    plugins = plugin_info(get_plugin_manager())
    by_plugin = get_catalogue().by_plugin()
    for p in plugins:
        regs = []
        for e in by_plugin.get(p["name"], []):
            item: dict[str, Any] = {"kind": e.kind, "name": e.name, "summary": e.summary}
            if hasattr(e.obj, "describe_params"):
                item["params"] = e.obj.describe_params()
            item.update({k: v for k, v in e.extra.items()})
            regs.append(item)
        p["registered"] = regs
    return plugins


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        from gpsa.config.reference import actor_reference
        from gpsa.plugins.catalogue import get_catalogue

        print_line("# Settings of the registered actors and PSA algorithms\n\n"
                   + actor_reference(get_catalogue()).rstrip())
        return 0
    plugins = collect()
    if args.json:
        print_json(plugins)
        return 0
    print_table("Plugins", ["plugin", "version", "built-in", "hooks"],
                [[p["name"], p["version"] or "-", "yes" if p["builtin"] else "no",
                  ", ".join(h.removeprefix("gpsa_") for h in p["hooks"])] for p in plugins])
    rows = [[r["kind"], r["name"], p["name"], r["summary"]]
            for p in plugins for r in p["registered"]]
    print_table("Registered", ["kind", "name", "plugin", "summary"], rows)
    return 0
