"""The run-file reference page, ``docs/run-file.md``, generated from the declared parameters.

The whole page is generated: the hand-written parts (structure, per-crystal sections, folders,
placeholders, relative paths) are :data:`PAGE` below, and the tables come from the
:class:`~gpsa.config.params.Param` attributes of :class:`~gpsa.config.resolve.RunSettings` and of
every actor and PSA algorithm that the built-in plugins register (installed plugins are left
out, so the page does not depend on what is installed). Regenerate it with::

    python -m gpsa.config.reference > docs/run-file.md

``tests/docs/test_run_file_page.py`` fails when the committed page differs from this output.
``gpsa plugins --markdown`` prints the same actor tables for everything installed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gpsa.config.params import Param

REGENERATE = "python -m gpsa.config.reference > docs/run-file.md"
KIND_TITLES = (("producer", "Producers"), ("filter", "Filters"), ("consumer", "Consumers"),
               ("global", "Global actors"))
_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", Path: "path"}


def toml_value(value: Any) -> str:
    """``value`` as written in a TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, Path)):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def type_name(param: Param[Any]) -> str:
    """``int``, ``list[float]``, ..., paths as ``input path`` or ``output path`` by kind."""
    item = param.item if param.type is list else param.type
    name = _TYPE_NAMES[item]
    if item is Path and param.kind:
        name = f"{param.kind} path"
    return f"list[{name}]" if param.type is list else name


def default_text(param: Param[Any]) -> str:
    if param.required:
        return "**required**"
    if param.default is None:
        return "unset"
    return f"`{toml_value(param.default)}`"


def meaning(param: Param[Any]) -> str:
    """Help text, then choices and bounds."""
    parts = [param.help.rstrip(".") if param.help else "(no help text)"]
    each = "each " if param.type is list else ""
    if param.choices:
        parts.append(f"{each}one of " + ", ".join(f"`{toml_value(c)}`" for c in param.choices))
    if param.min is not None and param.max is not None:
        parts.append(f"{each}{param.min:g} to {param.max:g}")
    elif param.min is not None:
        parts.append(f"{each}>= {param.min:g}")
    elif param.max is not None:
        parts.append(f"{each}<= {param.max:g}")
    return _cell("; ".join(parts))


def param_table(params: Mapping[str, Param[Any]]) -> str:
    """A markdown table of ``params``: key, type, default, meaning."""
    if not params:
        return "No settings.\n"
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{key}` | {type_name(p)} | {_cell(default_text(p))} | {meaning(p)} |"
             for key, p in params.items()]
    return "\n".join(rows) + "\n"


def _entry_sections(entries: Iterable[Any], level: str) -> list[str]:
    out = []
    for e in entries:
        cls = e.obj
        notes = [f"Plugin `{e.plugin}`."]
        if e.kind == "filter":
            notes.append("`workers > 1` allowed (thread-safe)." if cls.thread_safe
                         else "One thread only (`workers = 1`).")
        if e.kind == "psa":
            notes.append(f"Devices: {', '.join(cls.devices)}.")
            if not cls.thread_safe:
                notes.append("Not thread-safe: calls are serialised when the stage has "
                             "`workers > 1`.")
        if e.kind == "filter" and e.name == "psa":
            notes.append("Also takes every setting of the algorithm named by `algorithm` "
                         "(see [PSA algorithms](#psa-algorithms)).")
        out.append(f"{level} `{e.name}`\n\n{e.summary} {' '.join(notes)}\n\n"
                   f"{param_table(cls.params())}")
    return out


def actor_reference(catalogue: Any, level: int = 2) -> str:
    """Sections for every actor (by kind) and PSA algorithm of ``catalogue``."""
    h, hh = "#" * level, "#" * (level + 1)
    parts = []
    for kind, title in KIND_TITLES:
        entries = [e for e in catalogue.actors.values() if e.kind == kind]
        if entries:
            parts.append(f"{h} {title}\n")
            parts += _entry_sections(entries, hh)
    if catalogue.psa_algorithms:
        parts.append(f"{h} PSA algorithms\n\nSelected by `algorithm = NAME` in the `psa` stage "
                     "(or `gpsa run --psa NAME`); their settings go in that stage.\n")
        parts += _entry_sections(catalogue.psa_algorithms.values(), hh)
    return "\n".join(parts)


def builtin_catalogue() -> Any:
    """The catalogue of the built-in plugins alone (no entry points)."""
    from gpsa.plugins.catalogue import build_catalogue
    from gpsa.plugins.manager import create_plugin_manager

    return build_catalogue(create_plugin_manager(autoload=False))


def run_file_page(catalogue: Any = None) -> str:
    """The text of ``docs/run-file.md``."""
    from gpsa.config.files import CONF_FOLDER, RUN_FILE_NAMES
    from gpsa.config.resolve import STAGE_KEYS, RunSettings

    cat = catalogue if catalogue is not None else builtin_catalogue()
    threaded = ", ".join(f"`{e.name}`" for e in cat.actors.values()
                         if e.kind == "filter" and e.obj.thread_safe) or "none"
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows += [STAGE_KEY_ROWS.get(key, f"| `{key}` | | | (undocumented) |").format(threaded=threaded)
             for key in STAGE_KEYS]
    from gpsa.config.global_stages import GLOBAL_STAGE_KEYS

    grows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    grows += [GLOBAL_KEY_ROWS[key] for key in GLOBAL_STAGE_KEYS]
    return PAGE.format(
        regenerate=REGENERATE, run_table=param_table(RunSettings.params()),
        stage_table="\n".join(rows) + "\n", global_table="\n".join(grows) + "\n",
        run_file_names=" or ".join(f"`{n}`" for n in RUN_FILE_NAMES), conf=CONF_FOLDER,
        actors=actor_reference(cat, level=3)).rstrip() + "\n"


#: Rows of the keys every stage takes (``gpsa.config.resolve.STAGE_KEYS``).
STAGE_KEY_ROWS = {
    "actor": "| `actor` | str | **required** | registered actor name (below, or `gpsa plugins`) |",
    "name": "| `name` | str | the actor name | the stage's name, unique in the chain: used by "
            "per-crystal tables and in messages; give it when one actor appears twice |",
    "workers": "| `workers` | int | `1` | threads running the stage at once, >= 1; above 1 only "
               "for thread-safe filters ({threaded}); blocks leave the stage in the order they "
               "came |",
}

#: Rows of the keys every global stage takes (``gpsa.config.global_stages.GLOBAL_STAGE_KEYS``).
GLOBAL_KEY_ROWS = {
    "actor": "| `actor` | str | **required** | registered actor name: a global actor, producer or "
             "consumer (below) |",
    "name": "| `name` | str | the actor name | the stage's name, unique in the global chain; "
            "blocks it emits reach the next stage with this `source` |",
}


PAGE = """\
# The run file

<!-- Generated by `{regenerate}` from the settings that gpsa's
built-in actors declare (gpsa/config/reference.py). Do not edit by hand: a test fails when this
page differs from the generated text. -->

A run is described by one TOML file (`run.toml`) or by a configuration folder (`Conf/`, below).
`gpsa config check CONF` checks it without running anything; `gpsa config show CONF` prints what
each crystal will run, every default filled in and every path resolved. Every key is checked
before any data is read: an unknown key (with a "did you mean" hint), a value of the wrong type,
out of range or not among the choices, a missing required key or a missing input file stops the
command with exit code 2 and one line naming the file, the stage and the key.

```toml
[run]
crystals = ["00A", "00B"]
output = "out"                  # each crystal writes to out/<crystal>/

[[stage]]                       # the first stage is a producer
actor = "adf-reader"
path = "data/{{crystal}}.adf"     # {{crystal}} becomes 00A, then 00B

[[stage]]                       # then filters
actor = "preprocess"
align_t0 = 20

[[stage]]
actor = "psa"
basis = "bases/A-2mm.h5"        # relative input paths: from this file's folder
workers = 2                     # two threads analyse blocks (output order kept)
search = "ags"                  # a grid-search setting

[[stage]]
actor = "post-psa"

[[stage]]                       # and one or more consumers
actor = "adf-writer"
path = "psa.adf"                # relative output paths: in out/<crystal>/

[crystal.00B.psa]               # crystal 00B only: these keys replace the stage's
basis = "bases/B-2mm.h5"
```

A file has four top-level keys and no others: `[run]`, `[[stage]]`, `[crystal]` and
`[[global]]`.
Values are TOML: `int` is an integer, `float` a number (an integer is accepted), `bool` is
`true`/`false` (not 0/1), `str` and paths are strings, `list[...]` is an array. A setting whose
default is "unset" is optional: leave it out.

## `[run]`

{run_table}
* `crystals` empty: the crystals are those that have per-crystal settings (`[crystal.<name>]`
  tables and, for a folder, sub-folders holding `.toml` files), in sorted order; with none the run
  file is an error. When `crystals` is given, settings for any other crystal are an error.
* `output` is relative to the folder of the run file (for a folder, the folder itself).
* The command line wins: `--out DIR` replaces `output` (relative to the current directory),
  `--device` replaces `device`, `--crystal NAME` (repeatable) runs some of the crystals, and
  `--psa NAME` sets `algorithm` of the stage whose actor is `psa`.

## `[[stage]]`

Each `[[stage]]` table is one actor of the chain, in order: a producer first, then any number of
filters, then one or more consumers (anything else is an error naming the stage). Three keys
belong to every stage; all the others are the settings of its actor (tables below).

{stage_table}
## `[[global]]`

The `[[global]]` tables, after the `[[stage]]` ones, are the **global chain**: `gpsa run` runs
every crystal's chain, then this one over the data:psa files they wrote (each crystal's first
`adf-writer`), with outputs in `<output>/global/` and a summary `gpsa-global.json` there
([the global level](global-level.md#a-global-run)). The first table is a global actor (it gets
every crystal's blocks; normally `time-sorter`), then global actors and producers (a producer,
e.g. `ancillary-simulator`, feeds the next global actor), then one or more consumers (e.g.
`event-writer`). A global table takes these keys and its actor's settings; `workers` and
per-crystal tables do not apply.

{global_table}
## Per-crystal settings

A table `[crystal.<crystal>.<stage name>]` changes settings of one stage for one crystal: each
key it sets replaces the stage's value for that crystal (a whole value: an array replaces the
array). `workers` may be changed; `actor` and `name` may not. A table naming a stage the chain
does not have is an error, and crystal names are letters, digits, `_` and `-`.

## A configuration folder

`gpsa run Conf/` reads {run_file_names} in the folder as above, then every
sub-folder that holds `.toml` files is a crystal: its files (`Conf/00A/*.toml`, read in
file-name order) hold tables named after stages, `[<stage name>]`, with that crystal's settings.
Sub-folders without `.toml` files are ignored.

```
Conf/
  run.toml           # [run] and [[stage]] tables, as in a single file
  00A/psa.toml       # [psa]  basis = "A-2mm.h5"  (found in Conf/00A/)
  00B/psa.toml
```

When a key is set in several places the last one wins: the `[[stage]]` table, then the run
file's `[crystal.<crystal>.<stage>]` tables, then the crystal's files in file-name order. Other
files in a crystal's folder (a `TimeEvoCC.conf` gain-drift table, calibration tables) are read
only where a setting names them, relative to that folder.

An AGATA-style run folder `run_0001/` that has no run file of its own but a `{conf}/` folder with
one is read as that `{conf}/`: `gpsa run run_0001` and `gpsa run run_0001/{conf}` are the same
run (`gpsa config init` writes such a folder).

## Placeholders

`{{crystal}}` in a string setting of a stage (also inside arrays and in per-crystal tables) is
replaced by the crystal name, after the per-crystal settings are merged. It is the only
placeholder, and `[run]` values are taken as written.

## Relative paths

* **Input files** (type "input path" in the tables: basis, calibration, cross-talk, ...) are
  relative to the folder of the file that sets them: the run file's folder for `[[stage]]` and
  `[crystal.*]` tables, `Conf/<crystal>/` for a folder's per-crystal files. They must exist when
  the configuration is checked.
* **Output files** (type "output path") are relative to the crystal's output folder
  `<output>/<crystal>/`, which gpsa creates.
* Absolute paths are kept as they are and `~` is expanded.

## Built-in actors

Installed plugins add actors and PSA algorithms: `gpsa plugins` lists them and
`gpsa plugins --markdown` prints these tables for everything installed.

{actors}
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Print the page (``python -m gpsa.config.reference``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gpsa.config.reference",
                                     description="Print docs/run-file.md, generated from the "
                                     "settings the built-in actors declare.")
    parser.parse_args(argv)
    sys.stdout.write(run_file_page())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
