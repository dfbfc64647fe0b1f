"""Efficiency, peak-to-total and the first-interaction fraction on spectra with a known
answer; ``gpsa track`` on a toy run and on a truth table."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.cli.main import main
from gpsa.tracking.efficiency import calorimetric, figures, first_found
from gpsa.tracking.toymc import generate
from gpsa.tracking.truthfile import from_toy, read_truth, write_truth


def test_figures_on_a_synthetic_spectrum() -> None:
    rng = np.random.default_rng(0)
    # 1000 gammas emitted per line: 300 + 200 in the peaks (sigma 0.5 keV, window 3 keV),
    # 1500 counts in a flat continuum from 50 to 1100 keV (none inside either window)
    cont = rng.uniform(50, 1100, 1500)
    spec = np.concatenate([rng.normal(1173.2, 0.5, 300), rng.normal(1332.5, 0.5, 200), cont,
                           [5.0] * 40])  # below the threshold
    rows = figures({"tracked": spec}, [1173.2, 1332.5], 1000, window_kev=3.0,
                   threshold_kev=10.0)
    assert [r.peak_counts for r in rows] == [300, 200]
    assert [r.efficiency for r in rows] == [0.3, 0.2]
    assert rows[0].peak_to_total == pytest.approx(500 / 2000)
    assert rows[0].total_counts == 2000


def test_calorimetric_sums() -> None:
    e = np.array([100.0, 200.0, 300.0, 400.0])
    spectra = calorimetric(e, np.array([0, 2, 3, 4]), np.array([0, 3, 3, 4]))
    assert spectra["crystal sum"].tolist() == [300.0, 300.0, 400.0]
    assert spectra["event sum"].tolist() == [600.0, 400.0]  # the empty event gives no entry


def test_first_found() -> None:
    true = np.array([[0.0, 0, 200], [0, 200, 0], [200, 0, 0]])
    tracked = np.array([[0.0, 0, 203], [0, 200, 50], [200, 0, 1]])
    # gamma 0 found (3 mm); gamma 1 missed (50 mm); gamma 2's event has a point at 1 mm but in
    # another event (1), so it does not count
    assert first_found(true, np.array([0, 0, 2]), tracked, np.array([0, 0, 1]), 5.0) == \
        pytest.approx(1 / 3)


def test_truth_file_round_trip(tmp_path) -> None:
    truth = from_toy(generate(50, [661.7], seed=1))
    write_truth(tmp_path / "t.npz", truth)
    back = read_truth(tmp_path / "t.npz")
    assert all(np.array_equal(back.columns[c], truth.columns[c]) for c in truth.columns)
    assert back.emitted_per_line.tolist() == [50]


def test_cli_track_toy_and_truth(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "truth.npz"
    assert main(["track", "--toy", "300", "--lines", "1173.2,1332.5", "--write-truth",
                 str(path)]) == 0
    out = capsys.readouterr().out
    for line in ("events sent to tracking", "hits sent to tracking", "gammas out of tracking",
                 "events with tracked gammas", "crystal sum", "event sum", "tracked",
                 "first interaction found"):
        assert line in out
    assert main(["track", str(path), "--inner-radius", "150", "--json"]) == 0
    assert '"first_found"' in capsys.readouterr().out
    assert main(["track"]) == 2
