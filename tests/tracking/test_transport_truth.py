"""Tracking on the transport's HDF5 truth: the conversion of /points to the truth layout, ``gpsa
track FILE.h5`` (true and smeared positions; the .npz path gives the same answer), the crmat
export of the transport placement, and the tracking actor's efficiency tally and summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpsa.cli.main import main
from gpsa.detector.transforms import load_crmat
from gpsa.runtime.global_chain import StageStats
from gpsa.runtime.global_counters import agata_counters
from gpsa.simulate.transport import ArrayGeometry, parse_source, transport_source
from gpsa.simulate.transport.labframe import write_crmat
from gpsa.tracking.efficiency import figures
from gpsa.tracking.events import track_built
from gpsa.tracking.tally import LineTally, transport_lines
from gpsa.tracking.toymc import generate
from gpsa.tracking.tracker import Tracker, TrackingSettings
from gpsa.tracking.truthfile import from_transport, read_truth, write_truth
from gpsa.tracking.truthtrack import track_truth

from ._helpers import built_from_toy

DECAYS = 3000


@pytest.fixture(scope="module")
def co60(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60Co through the synthetic shell (60 crystals at 235 mm), written as HDF5."""
    geom = ArrayGeometry.shell(60, 235.0)
    path = tmp_path_factory.mktemp("transport") / "co60.h5"
    transport_source(geom, parse_source("co60"), DECAYS, seed=3).write(path)
    return path


def test_truth_from_the_transport_file(co60: Path) -> None:
    from gpsa.simulate.transport import read_transport

    result = read_transport(co60)
    truth = read_truth(co60)
    c, p = truth.columns, result.points
    assert len(c["event"]) == result.n_points > 0
    assert np.array_equal(truth.positions, np.stack([p[f"lab_{a}"] for a in "xyz"], axis=1))
    assert np.all(np.diff(c["event"]) >= 0)  # grouped by event
    # one gamma per (decay, line): its rows contiguous, its first row the first interaction
    g = c["gamma"]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    assert len(np.unique(g)) == len(starts)
    assert np.all(p["interaction"][starts] == 0) and np.all(p["photon"][starts] == 0)
    assert np.array_equal(c["emitted"], p["gamma_energy"].astype(np.float64))
    assert truth.lines_kev.tolist() == pytest.approx([1173.2, 1332.5])
    assert truth.emitted_per_line.tolist() == [DECAYS, DECAYS]
    assert transport_lines(co60) == (pytest.approx([1173.2, 1332.5]), DECAYS)
    # the tracked full-energy gammas cannot outnumber the calorimetric full-energy gammas
    out = track_truth(truth, Tracker(TrackingSettings(inner_radius_mm=235.0)))
    rows = {(r.spectrum, r.line_kev): r for r in figures(out.spectra, out.lines_kev,
                                                          out.emitted)}
    full = np.abs(result.gammas["deposited"] - result.gammas["energy"]) <= 0.01
    assert rows[("tracked", 1332.5)].peak_counts <= int(full[result.gammas["gamma"] == 1].sum())
    # on this sparse shell (60 crystals, about a third of 4 pi) few gammas cross crystals:
    # tracking keeps about the crystal sum's peak and rejects part of the continuum
    tracked, crystal = rows[("tracked", 1332.5)], rows[("crystal sum", 1332.5)]
    assert tracked.peak_counts > 0.9 * crystal.peak_counts
    assert tracked.peak_to_total > crystal.peak_to_total
    assert 0.5 < out.first_found <= 1.0


def test_cli_track_on_the_transport_file(co60: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--inner-radius", "235", "--json"]
    assert main(["track", str(co60), *args]) == 0
    h5 = json.loads(capsys.readouterr().out)
    npz = tmp_path / "co60.npz"
    write_truth(npz, from_transport(__import__("gpsa.simulate.transport", fromlist=["x"])
                                    .read_transport(co60)))
    assert main(["track", str(npz), *args]) == 0
    assert json.loads(capsys.readouterr().out) == h5  # the .npz path still works, same answer
    assert h5["counters"]["events_sent_to_tracking"] == len(np.unique(
        read_truth(co60).columns["event"]))
    assert h5["attenuation"]
    # smeared positions: fewer first interactions found
    assert main(["track", str(co60), *args, "--noise-mm", "5"]) == 0
    smeared = json.loads(capsys.readouterr().out)
    assert smeared["first_found"] < h5["first_found"]
    assert main(["track", str(tmp_path / "missing.h5")]) == 2


def test_crmat_of_the_transport_placement(tmp_path: Path) -> None:
    """Post-PSA's lab transform from the exported table maps the transport's crystal-frame
    points onto its lab columns (a subset: absent crystals get the identity)."""
    geom = ArrayGeometry.shell(30, 235.0, crystals=[3, 7, 8, 21])
    result = transport_source(geom, parse_source("cs137"), 4000, seed=2)
    lab = load_crmat(write_crmat(tmp_path / "crmat.dat", geom))
    assert len(lab) == 22
    assert np.allclose(lab.rotations[0], np.eye(3)) and np.allclose(lab.translations[0], 0)
    moved = lab.to_lab(result.points["crystal_id"].astype(np.int64), result.xyz)
    assert result.n_points > 0 and np.abs(moved - result.lab).max() < 1e-3


def test_line_tally_matches_figures() -> None:
    built = built_from_toy(generate(400, [1173.2, 1332.5], seed=8, inner_mm=200.0,
                                    outer_mm=290.0))
    tracker = Tracker(TrackingSettings(inner_radius_mm=200.0))
    tally = LineTally([1173.2, 1332.5], 400)
    parts = []
    for i in range(0, len(built), 64):
        part = built.take(slice(i, i + 64))
        out, _, _ = track_built(part, tracker)
        tally.add_built(part, out.gammas.energy)
        parts.append(out.gammas.energy)
    h = built.crystals.hits
    e = h.energy.astype(np.float64)
    ev = np.repeat(np.arange(len(built)), built.sizes)[h.event_index]
    spectra = {"crystal sum": np.bincount(h.event_index, e), "event sum": np.bincount(ev, e),
               "tracked": np.concatenate(parts)}
    ref = figures(spectra, [1173.2, 1332.5], 400, window_kev=3.0, threshold_kev=10.0)
    assert [vars(r) for r in tally.figures()] == [vars(r) for r in ref]
    assert tally.report()["figures"][0]["spectrum"] == "crystal sum"


def test_global_counters_pick_out_tracking() -> None:
    counters = {"events_sent_to_tracking": 5, "hits_sent_to_tracking": 9,
                "gammas_out_of_tracking": 6, "events_with_tracked_gammas": 4,
                "clusters_rejected_fom": 1, "singles_rejected": 2}
    st = StageStats("tracking", "tracking", "global", counters=counters,
                    report={"efficiency": {"figures": []}})
    out = agata_counters([st])
    assert out["tracking"] == {"stage": "tracking", "events_sent_to_tracking": 5,
                               "hits_sent_to_tracking": 9, "gammas_out_of_tracking": 6,
                               "events_with_tracked_gammas": 4,
                               "efficiency": {"figures": []}}
    assert "trigger" not in out  # its 'rejected' counters are not trigger decisions
