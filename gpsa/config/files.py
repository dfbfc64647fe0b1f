"""Reading run configurations: one TOML file, or a replay-style folder.

**One file** (``run.toml``)::

    [run]
    crystals = ["00A", "00B"]        # default: the crystals named in [crystal.*] sections
    output = "out"                   # outputs go to out/<crystal>/
    device = "cpu"                   # cpu | cuda | auto

    [[stage]]                        # first stage: a producer
    actor = "adf-reader"
    path = "data/{crystal}.adf"      # {crystal} is replaced by the crystal name

    [[stage]]                        # then filters ...
    actor = "psa"
    workers = 2                      # threads for a thread-safe filter
    basis = "bases/tiny.h5"

    [[stage]]                        # ... and one or more consumers
    actor = "adf-writer"
    path = "psa.adf"                 # relative outputs go to the crystal's output folder

    [crystal.00A.psa]                # per-crystal overrides: [crystal.<crystal>.<stage name>]
    basis = "bases/00A.h5"

**A folder** (``Conf/``): ``Conf/run.toml`` as above (``gpsa.toml`` also accepted) and one
sub-folder per crystal (``Conf/00A/*.toml``) whose files hold ``[<stage name>]`` override tables,
read in file-name order. The crystals are the sub-folders unless ``run.crystals`` lists them.

Relative input paths are resolved against the folder of the file that sets them.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpsa.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOP_LEVEL_KEYS = ("run", "stage", "crystal")
RUN_FILE_NAMES = ("run.toml", "gpsa.toml")
CRYSTAL_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Layer:
    """Settings for one stage from one file: ``values`` as read, ``base_dir`` for its paths."""

    values: dict[str, Any]
    source: str
    base_dir: Path


@dataclass
class RawConfig:
    """A run configuration as read, before any check against the actors."""

    source: Path
    base_dir: Path
    run: dict[str, Any]
    stages: list[Layer]
    overrides: dict[str, dict[str, list[Layer]]] = field(default_factory=dict)  # crystal→stage


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; ConfigError naming the file on a syntax error."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def read_config(path: Path | str) -> RawConfig:
    """Read a run file or a replay folder (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    return _read_file(path)


def _read_file(path: Path) -> RawConfig:
    data = read_toml(path)
    src = str(path)
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"{src}: unknown top-level key {key!r} "
                              f"(known: {', '.join(TOP_LEVEL_KEYS)})")
    run = data.get("run", {})
    if not isinstance(run, dict):
        raise ConfigError(f"{src}: 'run' must be a table ([run])")
    stages = data.get("stage", [])
    if not isinstance(stages, list) or not all(isinstance(s, dict) for s in stages):
        raise ConfigError(f"{src}: 'stage' must be an array of tables ([[stage]])")
    if not stages:
        raise ConfigError(f"{src}: no [[stage]] tables: a chain needs a producer and a consumer")
    base = path.parent.resolve()
    raw = RawConfig(source=path, base_dir=base, run=dict(run),
                    stages=[Layer(dict(s), f"{src}: stage {i + 1}", base)
                            for i, s in enumerate(stages)])
    crystals = data.get("crystal", {})
    if not isinstance(crystals, dict):
        raise ConfigError(f"{src}: 'crystal' must be a table of tables ([crystal.00A.<stage>])")
    for crystal, tables in crystals.items():
        _add_overrides(raw, crystal, tables, f"{src}: [crystal.{crystal}]", base)
    return raw


def _read_folder(folder: Path) -> RawConfig:
    run_file = next((folder / n for n in RUN_FILE_NAMES if (folder / n).is_file()), None)
    if run_file is None:
        raise ConfigError(f"{folder}: configuration folder has no "
                          f"{' or '.join(RUN_FILE_NAMES)}")
    raw = _read_file(run_file)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(sub.glob("*.toml"))
        if not files:
            continue
        raw.overrides.setdefault(sub.name, {})
        for f in files:
            _add_overrides(raw, sub.name, read_toml(f), str(f), sub.resolve())
    return raw


def _add_overrides(raw: RawConfig, crystal: str, tables: Any, src: str, base: Path) -> None:
    if not CRYSTAL_RE.match(crystal):
        raise ConfigError(f"{src}: invalid crystal name {crystal!r}")
    if not isinstance(tables, dict):
        raise ConfigError(f"{src}: expected tables named after stages ([<stage name>])")
    per_stage = raw.overrides.setdefault(crystal, {})
    for stage, values in tables.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{src}: {stage!r} must be a table named after a stage "
                              f"([crystal.{crystal}.<stage name>] or [<stage name>])")
        per_stage.setdefault(stage, []).append(Layer(dict(values), f"{src} [{stage}]", base))
