"""Fixtures of the report tests: a small simulated run (two crystals, truth written, one alarm
that fires) run once per session through ``gpsa run --json``, and its report."""

from __future__ import annotations

import contextlib
import io
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from gpsa.cli.main import main
from gpsa.plugins.manager import reset_plugin_manager
from gpsa.report import Report, write_report

CRYSTALS = ("00A", "01A")  # shape A, as the toy basis
EVENTS = 150


def write_run(folder: Path, basis: Path, *, run: str = "", alarms: str = "") -> Path:
    """simulator (truth.h5) -> preprocess -> psa -> post-psa -> adf-writer for
    :data:`CRYSTALS`; ``run``: more [run] lines, ``alarms``: [[alarm]] tables."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.toml"
    path.write_text(textwrap.dedent(f"""\
        [run]
        crystals = {list(CRYSTALS)!r}
        output = "out"
        {run}
        """) + alarms + textwrap.dedent(f"""
        [[stage]]
        actor = "simulator"
        basis = "{basis}"
        events = {EVENTS}
        block_size = 30
        truth = "truth.h5"

        [[stage]]
        actor = "preprocess"
        align_t0 = 20

        [[stage]]
        actor = "psa"
        basis = "{basis}"

        [[stage]]
        actor = "post-psa"

        [[stage]]
        actor = "adf-writer"
        """))
    return path


#: Fires on every crystal: the psa stage's rate is always below 1e9 events/s.
ALARM = textwrap.dedent("""\
    [[alarm]]
    name = "slow-psa"
    metric = "rate"
    condition = "below"
    value = 1e9
    stage = "psa"
    """)


def run_json(conf: Path) -> dict[str, object]:
    """``gpsa run CONF --json``, in this process; returns the printed summary."""
    out = io.StringIO()
    reset_plugin_manager()
    try:
        with contextlib.redirect_stdout(out):
            assert main(["run", str(conf), "--json"]) == 0
    finally:
        reset_plugin_manager()
    return json.loads(out.getvalue())


@dataclass(frozen=True)
class SimulatedRun:
    folder: Path  # the run's output folder
    summary_file: Path  # the saved `gpsa run --json` output
    report: Report


@pytest.fixture(scope="session")
def simulated_run(tmp_path_factory: pytest.TempPathFactory, basis_file: Path) -> SimulatedRun:
    base = tmp_path_factory.mktemp("report-run")
    conf = write_run(base, basis_file, run="monitor_interval = 0.2", alarms=ALARM)
    summary = run_json(conf)
    summary_file = base / "summary.json"
    summary_file.write_text(json.dumps(summary))
    folder = base / "out"
    return SimulatedRun(folder=folder, summary_file=summary_file,
                        report=write_report(folder, summary_file=summary_file))
