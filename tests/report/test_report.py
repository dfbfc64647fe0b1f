"""``gpsa report`` on a small simulated run: every plot and the page are written, and the numbers
on the page equal those computed here from the run's files by other code (the demo's
PSA-vs-truth comparison, a naive per-event join)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from gpsa.adf import read_all
from gpsa.cli.main import main
from gpsa.report.data import read_crystal
from gpsa.report.traces import EVENTS as TRACE_EVENTS
from gpsa.report.traces import event_traces
from gpsa.runtime.demo import compare_with_truth
from gpsa.simulate import read_truth

from .conftest import CRYSTALS, EVENTS, SimulatedRun

EXPECTED_PNGS = {*(f"positions_{c}.png" for c in CRYSTALS), "spectra.png", "multiplicity.png",
                 "truth_axes.png", "truth_versus.png", "throughput.png", "traces.png"}


class Tables(HTMLParser):
    """The rows of every <table id=...> of a page, as text cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(a.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_tables(page: Path) -> Tables:
    parser = Tables()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_report_writes_every_plot_and_the_page(simulated_run: SimulatedRun) -> None:
    report = simulated_run.report
    folder = report.page.parent
    assert report.page == simulated_run.folder / "report" / "report.html"
    assert {p.name for p in folder.glob("*.png")} == EXPECTED_PNGS
    assert {f.path.name for f in report.figures} == EXPECTED_PNGS
    for png in folder.glob("*.png"):
        image = imread(png)
        assert image.shape[0] > 200 and image.shape[1] > 300, png.name
        assert float(image[..., :3].std()) > 0.02, f"{png.name} looks blank"
    # every plot is embedded in the page (opens without a server) as the very PNG written
    sources = page_tables(report.page).images
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in sources}
    assert len(sources) == len(EXPECTED_PNGS)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert embedded == {p.read_bytes() for p in folder.glob("*.png")}
    for fig in report.figures:  # every figure says what it shows with numbers
        assert re.search(r"\d", fig.caption), fig


def _value(cell: str) -> float:
    return float("nan") if cell == "n/a" else float(cell)


def test_summary_numbers_equal_those_from_the_files(simulated_run: SimulatedRun) -> None:
    rows = page_tables(simulated_run.report.page).tables["summary"][1:]
    shown = {k: _value(v) for k, v in rows}
    folders = [simulated_run.folder / c for c in CRYSTALS]
    psa = [read_all(f / "psa.adf").psa for f in folders]
    truths = [read_truth(f / "truth.h5") for f in folders]
    n_hits = sum(len(p.hits) for p in psa)
    assert shown["crystals"] == len(CRYSTALS)
    assert shown["events"] == EVENTS * len(CRYSTALS) == sum(len(p) for p in psa)
    assert shown["hits"] == n_hits
    assert shown["mean multiplicity"] == pytest.approx(n_hits / shown["events"], rel=1e-3)
    e0 = np.concatenate([p.events.e0 for p in psa])
    assert shown["median core energy (keV)"] == pytest.approx(float(np.median(e0)), rel=1e-3)
    assert shown["simulated events (truth)"] == sum(t.n_events for t in truths)
    # the demo's own PSA-vs-truth comparison gives the same centroid errors
    distances = np.concatenate([compare_with_truth(f)["distances"] for f in folders])
    assert shown["events compared with truth"] == distances.size
    assert shown["median 3D centroid error (mm)"] == pytest.approx(float(np.median(distances)),
                                                                   rel=1e-3)
    assert shown["90th percentile 3D error (mm)"] == pytest.approx(
        float(np.percentile(distances, 90)), rel=1e-3)
    # per axis: a naive join of one-interaction truth events with one-hit PSA events
    d: list[tuple[float, float, float]] = []
    for p, t in zip(psa, truths, strict=True):
        ti = t.interactions
        single = {int(e): i for i, e in enumerate(ti["event_number"])
                  if np.sum(ti["event_number"] == e) == 1}
        counts = np.bincount(p.hits.event_index, minlength=len(p))
        for h in range(len(p.hits)):
            event = int(p.events.event_numbers[p.hits.event_index[h]])
            if counts[p.hits.event_index[h]] == 1 and event in single:
                i = single[event]
                d.append((p.hits.x[h] - ti["x"][i], p.hits.y[h] - ti["y"][i],
                          p.hits.z[h] - ti["z"][i]))
    arr = np.abs(np.asarray(d))
    assert shown["single-interaction events"] == len(d) > 0
    for k, axis in enumerate("xyz"):
        assert shown[f"median |d{axis}| single (mm)"] == pytest.approx(
            float(np.median(arr[:, k])), rel=1e-3, abs=1e-4)
    alarms = json.loads(simulated_run.summary_file.read_text())["alarms"]
    assert shown["alarms"] == len(alarms) >= len(CRYSTALS)
    assert shown["monitor snapshots"] == 0  # no Central Memory in this run


def test_alarms_and_stages_tables(simulated_run: SimulatedRun) -> None:
    tables = page_tables(simulated_run.report.page).tables
    alarms = tables["alarms"][1:]
    assert {(r[0], r[5], r[6]) for r in alarms} == {("slow-psa", c, "psa") for c in CRYSTALS}
    stages = tables["stages"][1:]
    runs = [json.loads((simulated_run.folder / c / "gpsa-run.json").read_text())
            for c in CRYSTALS]
    expected = {(r["config"]["crystal"], a["label"]) for r in runs for a in r["result"]["actors"]}
    assert {(r[0], r[1]) for r in stages} == expected
    busy = {(r[0], r[1]): _value(r[3]) for r in stages}
    for r in runs:
        for a in r["result"]["actors"]:
            assert busy[r["config"]["crystal"], a["label"]] == pytest.approx(
                a["busy_seconds"], rel=1e-3, abs=1e-4)


def test_cli_report_json(simulated_run: SimulatedRun, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(simulated_run.folder), "--out", str(tmp_path / "r"),
                 "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert Path(got["page"]) == tmp_path / "r" / "report.html"
    assert {Path(f).name for f in got["figures"]} == EXPECTED_PNGS
    assert got["summary"]["events"] == EVENTS * len(CRYSTALS)
    assert any("figure of merit" in n for n in got["notes"])  # not in data:psa
    assert not any("basis traces" in n for n in got["notes"])  # remade: a simulated run


def test_cli_report_on_a_folder_without_a_run(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 1
    assert "no crystal output folder" in capsys.readouterr().err


def test_missing_matplotlib_says_how_to_install(simulated_run: SimulatedRun) -> None:
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from gpsa.cli.main import main\n"
            f"sys.exit(main(['report', {str(simulated_run.folder)!r}, '--out', 'unused']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=simulated_run.folder)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'gpsa[plot]'" in lines[0]
    assert not (simulated_run.folder / "unused").exists()


def test_remade_traces_are_the_runs_and_the_fit_follows_them(simulated_run: SimulatedRun) -> None:
    crystal = read_crystal(simulated_run.folder / CRYSTALS[0])
    events = event_traces(crystal)
    assert len(events) == TRACE_EVENTS
    assert crystal.psa is not None
    e0 = dict(zip(crystal.psa.events.event_numbers.tolist(), crystal.psa.events.e0.tolist(),
                  strict=True))
    for ev in events:
        assert ev.channels[-1] == 36  # the core, after the hit segments
        # the remade core ends at the event's core energy as the run measured it
        assert float(ev.measured[-1, -10:].mean()) == pytest.approx(e0[ev.event_number],
                                                                    rel=0.03)
        assert ev.residual_ratio < 0.15


def test_tracked_gammas_of_the_global_level(simulated_run: SimulatedRun, tmp_path: Path) -> None:
    from gpsa.adf import AdfWriter, TrackedBlock, TrackedEvents, TrackedGammas
    from gpsa.report import write_report

    run = tmp_path / "out"
    shutil.copytree(simulated_run.folder, run, ignore=shutil.ignore_patterns("report"))
    energy = np.r_[np.full(30, 1332.5), np.full(20, 1173.2), np.linspace(100, 1000, 10)]
    n, m = 30, energy.size  # two gammas per event
    f = np.zeros(m, np.float32)
    gammas = TrackedGammas(np.repeat(np.arange(n), 2).astype(np.int64),
                           energy.astype(np.float32), *([f] * 8),
                           n_interactions=np.ones(m, np.uint16), status=np.zeros(m, np.uint16))
    block = TrackedBlock(TrackedEvents(np.arange(n, dtype=np.uint64),
                                       np.arange(n, dtype=np.uint32), np.zeros(n, np.uint16)),
                         gammas)
    (run / "global").mkdir()
    with AdfWriter(run / "global" / "tracked.adf", eof=True) as w:
        w.write(block)
    report = write_report(run)
    assert report.summary["tracked gammas"] == m
    spectra = next(f for f in report.figures if f.path.name == "spectra.png")
    assert "tracked (60 gammas) at 1335 keV" in spectra.caption  # the 1330-1340 keV bin
    assert imread(spectra.path).shape[1] > imread(
        simulated_run.folder / "report" / "spectra.png").shape[1]  # a third panel
    assert not any("tracked" in n for n in report.notes)
