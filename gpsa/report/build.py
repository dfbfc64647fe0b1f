"""``write_report``: read a run's output folder, write every plot as a PNG and the HTML page."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.report.data import RunData, read_run
from gpsa.report.figures import Figure, require_matplotlib
from gpsa.report.hits import plot_fom, plot_multiplicity, plot_positions, plot_spectra
from gpsa.report.numbers import summary
from gpsa.report.page import cell, render, write_page
from gpsa.report.throughput import (
    ALARM_COLUMNS,
    alarm_rows,
    plot_throughput,
    plot_timeline,
    read_snapshots,
    stage_table,
)
from gpsa.report.traces import plot_traces
from gpsa.report.truth import plot_truth

log = logging.getLogger(__name__)

PAGE = "report.html"

TRACES_NOTE = ("measured vs best-fit basis traces: the run folder keeps the PSA results "
               "(data:psa), not the traces; they are remade only for a simulator -> "
               "preprocess -> psa run whose remade events match the run's")

FOM_NOTE = ("figure-of-merit distribution: data:psa does not store the PSA figure of merit "
            "(gpsa/adf/FORMATS.md: NaN on decode)")


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` wrote: the page, the figures and the summary numbers."""

    page: Path
    figures: list[Figure]
    summary: dict[str, Any]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"page": str(self.page), "figures": [str(f.path) for f in self.figures],
                "summary": self.summary, "notes": self.notes}


def _figures(run: RunData, folder: Path, snapshots: list[dict[str, Any]]) -> list[Figure]:
    figures = plot_positions(run, folder)
    figures += [plot_spectra(run, folder), plot_multiplicity(run, folder)]
    fom = plot_fom(run, folder)
    if fom is not None:
        figures.append(fom)
    traces = plot_traces(run, folder)
    if traces is not None:
        figures.append(traces)
    figures += plot_truth(run, folder)
    figures.append(plot_throughput(run, folder))
    timeline = plot_timeline(snapshots, folder)
    if timeline is not None:
        figures.append(timeline)
    return figures


def _stage_rows(run: RunData) -> tuple[list[str], list[list[str]]]:
    labels, names, rate, busy = stage_table(run)
    rows = [[name, label, cell(float(rate[i, j])), cell(float(busy[i, j]))]
            for i, name in enumerate(names) for j, label in enumerate(labels)
            if not np.isnan(busy[i, j])]
    return ["crystal", "stage", "events per busy second", "busy seconds"], rows


def write_report(run_folder: Path, out: Path | None = None, *,
                 summary_file: Path | None = None, redis: str | None = None,
                 run_name: str | None = None) -> Report:
    """Write the report of the run in ``run_folder`` into ``out`` (default
    ``run_folder/report``): one PNG per plot and ``report.html``. ``summary_file``: a saved
    ``gpsa run --json`` output, for the alarms; ``redis``: a Central Memory URL holding the
    monitor's history of the run (``run_name``, default the folder's name as ``[run]
    run_name`` defaults to it)."""
    require_matplotlib()
    run = read_run(run_folder, summary=summary_file)
    out = Path(out) if out is not None else Path(run_folder) / "report"
    out.mkdir(parents=True, exist_ok=True)
    snapshots: list[dict[str, Any]] = []
    if redis:
        from gpsa.monitor.settings import clean_name

        name = run_name or clean_name(Path(run_folder).resolve().name)
        snapshots = read_snapshots(redis, name)
    figures = _figures(run, out, snapshots)
    numbers = summary(run)
    numbers["monitor snapshots"] = len(snapshots)
    notes = [] if any(f.path.name == "traces.png" for f in figures) else [TRACES_NOTE]
    if not any(np.isfinite(b.hits.fom).any() for b in run.psa_blocks):
        notes.append(FOM_NOTE)
    if not snapshots:
        notes.append("throughput and queue depth over time: no monitor snapshots (give "
                     "--redis URL of the run's Central Memory)")
    if not run.has_truth:
        notes.append("position error vs truth: no truth file with hits in the crystal frame "
                     "(a simulated run with truth = \"truth.h5\" and no post-psa "
                     "lab_transform has one)")
    if run.tracked_energies.size == 0:
        notes.append("tracked gamma spectrum: no data:tracked in global/")
    page = write_page(out / PAGE, render(
        run_folder=Path(run_folder), summary=numbers, figures=figures,
        stages=_stage_rows(run), alarms=(list(ALARM_COLUMNS), alarm_rows(run)), notes=notes))
    log.info("report: %d figures and %s", len(figures), page)
    return Report(page=page, figures=figures, summary=numbers, notes=notes)
