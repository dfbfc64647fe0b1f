"""The text of each file of an AGATA-style run folder (``gpsa config init``; the folder's layout
and its writing are :mod:`gpsa.config.agata_folder`): :func:`render_run` gives ``Conf/run.toml``
(the [run] settings and the chain adf-reader -> preprocess -> psa -> post-psa -> adf-writer, every
key commented, the other settings of each actor listed as comments with their defaults) and
:func:`render_crystal` the files of ``Conf/<crystal>/``: ``crystal.toml`` (per-crystal
overrides), a neutral ``TimeEvoCC.conf`` gain-drift table, a neutral ``calibration.txt`` and an
identity ``crosstalk.txt``. Nothing here touches the disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gpsa import __version__
from gpsa.block import N_CHANNELS
from gpsa.config.files import CONF_FOLDER

OUT_FOLDER = "Out"
DATA_FOLDER = "Data"
CRYSTAL_FILE = "crystal.toml"
GAIN_FILE = "TimeEvoCC.conf"
CALIBRATION_FILE = "calibration.txt"
CROSSTALK_FILE = "crosstalk.txt"
CRYSTAL_IN_CONF = f"{CONF_FOLDER}/<crystal>/{CRYSTAL_FILE}"
#: Default input, relative to the run folder: where ``gpsa simulate --out RUN/Data`` writes.
DEFAULT_INPUT = f"{DATA_FOLDER}/{{crystal}}/events.adf"
#: End of the neutral gain-drift bin: the 48-bit timestamp range (10 ns ticks).
TS_END = 1 << 48
#: Trace conventions shared with ``gpsa simulate``'s defaults (--pretrigger, --gain,
#: --core-low-gain).
ALIGN_T0, KEV_PER_ADC, CORE_LOW_GAIN = 20, 0.25, 1.0
CROSSTALK_CHANNELS = 37

RUN_HEADER = """\
# gpsa run configuration of an AGATA-style run folder, written by `gpsa config init` (gpsa {ver}).
#
#   RUN/Conf/run.toml           this file: the [run] settings and the chain of stages
#   RUN/Conf/<crystal>/*.toml   per-crystal overrides, [<stage name>] tables (crystal.toml)
#   RUN/Conf/<crystal>/...      the crystal's tables: TimeEvoCC.conf, calibration, cross-talk
#   RUN/Out/<crystal>/          outputs
#
# Run with `gpsa run RUN` (or `gpsa run RUN/Conf`); check with `gpsa config check RUN`.
# Relative paths resolve against this folder (Conf/); "{{crystal}}" in a value is replaced by
# the crystal's name. Each stage lists its other settings as comments with their defaults;
# `gpsa plugins --json` describes every actor's settings.
"""


def _conf_path(target: str, folder: Path) -> str:
    """``target`` (relative to the current folder) as written in ``Conf/run.toml``."""
    path = Path(os.path.abspath(Path(target).expanduser()))
    run = Path(os.path.abspath(folder))
    if path == run or run in path.parents:
        return Path(os.path.relpath(path, run / CONF_FOLDER)).as_posix()
    return path.as_posix()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def _line(key: str, value: Any, comment: str, *, commented: bool = False) -> str:
    text = f"{'# ' if commented else ''}{key} = {_toml(value)}"
    return f"{text:<40} # {comment}"


def _table(params: dict[str, Any], values: dict[str, Any], notes: dict[str, str]) -> list[str]:
    """Lines of the keys set in ``values``, then the other ``params`` as comments."""
    lines = [_line(k, v, notes.get(k) or params[k].help) for k, v in values.items()]
    rest = [k for k in params if k not in values]
    if rest:
        lines.append("# other settings (default values):")
    for k in rest:
        p = params[k]
        if p.required:
            continue
        if p.default is None:
            lines.append(f"{'# ' + k + ' = ...':<40} # {notes.get(k) or p.help} (default: unset)")
        else:
            lines.append(_line(k, p.default, notes.get(k) or p.help, commented=True))
    return lines


def _stage(actor: str, summary: str, values: dict[str, Any],
           notes: dict[str, str] | None = None) -> list[str]:
    from gpsa.plugins.catalogue import get_catalogue

    cls = get_catalogue().actor(actor, f"`gpsa config init` needs the actor {actor!r}")
    notes = dict(notes or {})
    notes.setdefault("workers", "threads running this filter (blocks stay in order)")
    params = cls.params_for({k: v for k, v in values.items() if k != "workers"})
    return ["", "[[stage]]", _line("actor", actor, summary), *_table(params, values, notes)]


def render_run(folder: Path, crystals: list[str], *, basis: str, input_pattern: str | None,
               device: str, workers: int) -> str:
    """The text of ``Conf/run.toml``."""
    from gpsa.config.resolve import RunSettings

    inp = _conf_path(input_pattern, folder) if input_pattern else f"../{DEFAULT_INPUT}"
    run = {k: p for k, p in RunSettings.params().items() if k != "crystals"}
    lines = [RUN_HEADER.format(ver=__version__).rstrip("\n"), "", "[run]",
             _line("crystals", crystals, "crystals to run (default: every sub-folder of Conf/ "
                   "holding a .toml file)", commented=True),
             *_table(run, {"output": f"../{OUT_FOLDER}", "device": device},
                     {"output": f"output root: crystal X writes to RUN/{OUT_FOLDER}/X/ "
                      "(relative to Conf/)",
                      "device": "compute device: cpu | cuda | cuda:N | auto (gpsa run --device "
                      "overrides it)"})]
    lines += _stage("adf-reader", "producer: data:crystal frames of an ADF file",
                    {"path": inp}, {"path": "ADF input of each crystal ({crystal}: its name)"})
    lines += _stage("preprocess", "filter: calibration, cross-talk, T0, alignment, net charge",
                    {"kev_per_adc": KEV_PER_ADC, "core_low_gain_kev_per_adc": CORE_LOW_GAIN,
                     "align_t0": ALIGN_T0},
                    {"kev_per_adc": "trace gain of segments and core high gain, keV/ADC "
                     "(gpsa simulate --gain)",
                     "core_low_gain_kev_per_adc": "trace gain of the core low gain, keV/ADC "
                     "(gpsa simulate --core-low-gain)",
                     "align_t0": "shift traces so that T0 is at this sample (gpsa simulate "
                     "--pretrigger)", "calibration": f"set per crystal: {CRYSTAL_IN_CONF}",
                     "crosstalk": f"set per crystal: {CRYSTAL_IN_CONF}"})
    lines += _stage("psa", "filter: pulse-shape analysis (gpsa run --psa NAME picks another "
                    "algorithm)", {"basis": _conf_path(basis, folder), "algorithm": "grid-search",
                                   "workers": workers},
                    {"basis": "signal basis ({crystal}: the crystal's name; or set it in "
                     f"{CRYSTAL_IN_CONF})"})
    lines += _stage("post-psa", "filter: gain drift, recalibration, lab frame", {},
                    {"gain_drift": f"set per crystal: {CRYSTAL_IN_CONF}"})
    lines += _stage("adf-writer", "consumer: data:psa frames", {"path": "psa.adf"},
                    {"path": "ADF output, in RUN/Out/<crystal>/"})
    return "\n".join(lines) + "\n"


def render_crystal(name: str) -> dict[str, str]:
    """The files of ``Conf/<name>/``: file name → text."""
    crystal = "\n".join([
        f"# gpsa per-crystal settings of crystal {name}, read by `gpsa run` after Conf/run.toml.",
        "# Each [<stage name>] table overrides that stage's settings for this crystal only.",
        f"# Relative paths resolve against this folder ({CONF_FOLDER}/{name}/). Every *.toml file",
        "# here is read, in name order.", "", "[preprocess]",
        _line("calibration", CALIBRATION_FILE, "energy coefficients 'channel offset gain' "
              "(written neutral)"),
        _line("crosstalk", CROSSTALK_FILE, "37 x 37 cross-talk matrix X = I + C (identity)"),
        _line("dead_segments", [], "segments rebuilt from the core", commented=True), "",
        "# [psa]",
        _line("basis", f"/path/to/{name}.h5", "this crystal's basis instead of run.toml's",
              commented=True), "", "[post-psa]",
        _line("gain_drift", GAIN_FILE, "AGATA time-evolution gain table (written neutral)"),
        _line("recalibration", [0.0, 1.0], "polynomial c0, c1, ... of the corrected energy",
              commented=True), ""])
    gain = f"""\
# {GAIN_FILE} of crystal {name}: AGATA's time-evolution gain-drift table (format public),
# read by gpsa's post-psa stage (gain_drift, gpsa.postpsa.gaindrift). One line per time bin:
# 'TS_start TS_end gain', timestamps in 10 ns ticks; an event with TS_start <= timestamp < TS_end
# has its energies multiplied by gain; events outside every bin keep gain 1; bins must not
# overlap. Written neutral by `gpsa config init`: one bin over the 48-bit range, gain 1.
# TS_start TS_end gain
0 {TS_END} 1.0
"""
    calib = [f"""\
# Energy calibration of crystal {name} in gpsa's format (gpsa.preprocess.calibration; AGATA's
# own calibration files are not public), read by the preprocess stage (calibration).
# One line per channel 'channel offset gain': calibrated energy = offset + gain * energy.
# Channels 0-35 segments, 36 core (low gain), 37 core (high gain); a missing channel keeps
# offset 0 and gain 1. Written neutral by `gpsa config init`.
# channel offset gain"""]
    calib += [f"{ch} 0.0 1.0" for ch in range(N_CHANNELS)]
    xtalk = [f"""\
# Proportional cross-talk of crystal {name} in gpsa's format (gpsa.preprocess.crosstalk; AGATA's
# own cross-talk files are not public), read by the preprocess stage (crosstalk).
# {CROSSTALK_CHANNELS} lines of {CROSSTALK_CHANNELS} numbers: the matrix X = I + C with
# measured = X . true over channels 0-35 (segments) and 36 (core), row = receiving channel;
# preprocess applies X^-1 to traces and energies. Written as the identity (no cross-talk)."""]
    xtalk += [" ".join("1" if i == j else "0" for j in range(CROSSTALK_CHANNELS))
              for i in range(CROSSTALK_CHANNELS)]
    return {CRYSTAL_FILE: crystal, GAIN_FILE: gain,
            CALIBRATION_FILE: "\n".join(calib) + "\n", CROSSTALK_FILE: "\n".join(xtalk) + "\n"}
