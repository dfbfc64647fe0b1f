"""Reading run configurations: one TOML file, or a replay-style folder.

**One file** (``run.toml``)::

    [run]
    crystals = ["00A", "00B"]        # default: the crystals named in [crystal.*] sections
    output = "out"                   # outputs go to out/<crystal>/
    device = "cpu"                   # cpu | cuda | cuda:N | auto (gpus = [0, 1]: spread over)

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
Other files in a crystal's folder (``TimeEvoCC.conf``, tables) are read only where a setting
names them.

Relative input paths are resolved against the folder of the file that sets them.

**AGATA-style run folders** (``gpsa config init``, :mod:`gpsa.config.agata_folder`). AGATA replays
keep a run as ``run_XXXX/Conf/<crystal>/...`` and ``run_XXXX/Out/...``; gpsa reads the same
shape::

    run_0001/Conf/run.toml               the chain (adf-reader, preprocess, psa, post-psa,
                                         adf-writer) and [run] output = "../Out"
    run_0001/Conf/00A/crystal.toml       [preprocess] calibration = "calibration.txt"
                                         [post-psa] gain_drift = "TimeEvoCC.conf" ...
    run_0001/Conf/00A/TimeEvoCC.conf     AGATA's gain-drift table: 'TS_start TS_end gain'
    run_0001/Conf/00A/calibration.txt    gpsa's 'channel offset gain' energy coefficients
    run_0001/Conf/00A/crosstalk.txt      gpsa's 37 x 37 cross-talk matrix X = I + C
    run_0001/Out/00A/psa.adf             outputs

``gpsa run run_0001/Conf`` and ``gpsa run run_0001`` read the same configuration: a folder with
no run file but a ``Conf/`` sub-folder that has one is read as that ``Conf/``. A per-crystal
file names the AGATA files by their plain names (``gain_drift = "TimeEvoCC.conf"``): they
resolve against that crystal's folder. Of AGATA's files only ``TimeEvoCC.conf`` (and the
``crmat`` lab table) have a public format that gpsa reads; the keywords of the AGAPRO/femul
actors' own ``.conf`` files (producer, preprocessing, PSA, post-PSA) and AGATA's calibration
and cross-talk formats are not public, so gpsa reads its own TOML keys and its own documented
tables instead (``docs/conf-folders.md``).

**Global stages** (``[[global]]`` tables, after the ``[[stage]]`` ones) describe the global
chain run once over every crystal's output (:mod:`gpsa.config.global_stages`); they take no
per-crystal overrides.

**Alarms** (``[[alarm]]`` tables) set thresholds on the run's metrics; see
:mod:`gpsa.monitor.settings` and ``docs/monitoring.md``.

**Unknown keys name file and line.** Each :class:`Layer` remembers its file and table, so
:mod:`gpsa.config.resolve` reports an unknown key of the ``[run]`` table, of a ``[[stage]]`` or
of an override table as ``FILE:LINE: stage 'psa': unknown key 'serach' (did you mean
'search'?)``, with the line found by :mod:`gpsa.config.tomlpos`; an override table that names no
stage is reported the same way.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpsa.config.tomlpos import KeyPath, line_of
from gpsa.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOP_LEVEL_KEYS = ("run", "stage", "crystal", "global", "alarm")
RUN_FILE_NAMES = ("run.toml", "gpsa.toml")
#: The configuration folder inside an AGATA-style run folder (``run_XXXX/Conf``).
CONF_FOLDER = "Conf"
CRYSTAL_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Layer:
    """Settings for one stage from one file: ``values`` as read, ``base_dir`` for its paths,
    ``file`` and ``table`` (the table's key path in it, see :mod:`gpsa.config.tomlpos`) to
    find a key's line."""

    values: dict[str, Any]
    source: str
    base_dir: Path
    file: Path | None = None
    table: KeyPath = ()

    def where(self, key: str | None) -> str:
        """``FILE:LINE`` of ``key`` (None: of the table itself) in this layer's file (``FILE``
        alone if not found)."""
        if self.file is None:
            return self.source
        return where_in(self.file, self.table if key is None else (*self.table, key))


@dataclass
class RawConfig:
    """A run configuration as read, before any check against the actors."""

    source: Path
    base_dir: Path
    run: dict[str, Any]
    stages: list[Layer]
    overrides: dict[str, dict[str, list[Layer]]] = field(default_factory=dict)  # crystal→stage
    #: the ``[[global]]`` tables: the global chain, run once over every crystal's output
    global_stages: list[Layer] = field(default_factory=list)
    #: the ``[[alarm]]`` tables (:mod:`gpsa.monitor.settings`)
    alarms: list[Layer] = field(default_factory=list)


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
    """Read a run file, a replay folder or a run folder holding ``Conf/`` (see the module
    docstring); unknown keys are reported with their file and line."""
    path = Path(path)
    return _read_folder(path) if path.is_dir() else _read_file(path)


def where_in(path: Path, key_path: KeyPath) -> str:
    """``FILE:LINE`` of the key (or table) at ``key_path`` in the TOML file ``path``; ``FILE``
    alone if it is not found."""
    line = line_of(path, key_path)
    return f"{path}:{line}" if line is not None else str(path)


def _read_file(path: Path) -> RawConfig:
    data = read_toml(path)
    src = str(path)
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"{where_in(path, (key,))}: unknown top-level key {key!r} "
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
                    stages=[Layer(dict(s), f"{src}: stage {i + 1}", base, path, ("stage", i))
                            for i, s in enumerate(stages)])
    globals_ = data.get("global", [])
    if not isinstance(globals_, list) or not all(isinstance(s, dict) for s in globals_):
        raise ConfigError(f"{src}: 'global' must be an array of tables ([[global]])")
    raw.global_stages = [Layer(dict(s), f"{src}: global stage {i + 1}", base, path,
                               ("global", i)) for i, s in enumerate(globals_)]
    alarms = data.get("alarm", [])
    if not isinstance(alarms, list) or not all(isinstance(s, dict) for s in alarms):
        raise ConfigError(f"{src}: 'alarm' must be an array of tables ([[alarm]])")
    raw.alarms = [Layer(dict(s), f"alarm {i + 1}", base, path, ("alarm", i))
                  for i, s in enumerate(alarms)]
    crystals = data.get("crystal", {})
    if not isinstance(crystals, dict):
        raise ConfigError(f"{src}: 'crystal' must be a table of tables ([crystal.00A.<stage>])")
    for crystal, tables in crystals.items():
        _add_overrides(raw, crystal, tables, f"{src}: [crystal.{crystal}]", base,
                       path, ("crystal", crystal))
    return raw


def _run_file(folder: Path) -> Path | None:
    return next((folder / n for n in RUN_FILE_NAMES if (folder / n).is_file()), None)


def _read_folder(folder: Path) -> RawConfig:
    run_file = _run_file(folder)
    if run_file is None and _run_file(folder / CONF_FOLDER) is not None:
        folder = folder / CONF_FOLDER  # a run folder: run_XXXX/ holding Conf/
        run_file = _run_file(folder)
    if run_file is None:
        raise ConfigError(f"{folder}: configuration folder has no "
                          f"{' or '.join(RUN_FILE_NAMES)} (nor {CONF_FOLDER}/run.toml)")
    raw = _read_file(run_file)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(sub.glob("*.toml"))
        if not files:
            continue
        raw.overrides.setdefault(sub.name, {})
        for f in files:
            _add_overrides(raw, sub.name, read_toml(f), str(f), sub.resolve(), f, ())
    return raw


def _add_overrides(raw: RawConfig, crystal: str, tables: Any, src: str, base: Path,
                   file: Path, table: KeyPath) -> None:
    if not CRYSTAL_RE.match(crystal):
        raise ConfigError(f"{src}: invalid crystal name {crystal!r}")
    if not isinstance(tables, dict):
        raise ConfigError(f"{src}: expected tables named after stages ([<stage name>])")
    per_stage = raw.overrides.setdefault(crystal, {})
    for stage, values in tables.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{src}: {stage!r} must be a table named after a stage "
                              f"([crystal.{crystal}.<stage name>] or [<stage name>])")
        per_stage.setdefault(stage, []).append(
            Layer(dict(values), f"{src} [{stage}]", base, file, (*table, stage)))

