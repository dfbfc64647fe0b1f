"""``gpsa bench`` runs every registered PSA algorithm beside the grid search: speed, training time
and accuracy on the same events, a failure reported as one row (gpsa.bench.algorithms)."""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gpsa.cli.main import main
from gpsa.plugins import Param, PsaAlgorithm, hookimpl
from gpsa.plugins.manager import create_plugin_manager, reset_plugin_manager

TINY = ["bench", "--source", "toy-small", "--events", "60", "--reference-events", "30",
        "--samples", "30", "--repeat", "1"]


class SegmentCentre(PsaAlgorithm):
    """Every hit at the mean position of its segment's basis points (a test algorithm)."""

    name = "segment-centre"
    threshold_kev = Param(float, 15.0, "net-charge threshold of a hit segment, keV", min=0.0)

    def setup(self, basis: Any, device: str) -> None:
        self.centres = np.array([basis.positions[basis.segment == s].mean(0)
                                 if np.any(basis.segment == s) else np.zeros(3)
                                 for s in range(36)], np.float32)

    def analyse(self, block: Any) -> Any:
        from gpsa.block import PsaBlock, PsaEvents, PsaHits

        seg_e = block.energies[:, :36]
        ev, seg = np.nonzero(seg_e > self.threshold_kev)
        n = len(block)
        t0 = np.nan_to_num(block.t0, nan=0.0).astype(np.float32)
        events = PsaEvents(timestamps=block.timestamps.copy(),
                           event_numbers=block.event_numbers.copy(),
                           crystal_ids=block.crystal_ids.copy(), status=block.status.copy(),
                           e0=block.energies[:, 36].copy(), e1=block.energies[:, 37].copy(),
                           t0=t0, t1=t0, psa_status=np.zeros(n, np.uint16))
        c = self.centres[seg]
        hits = PsaHits.build(ev, segment=seg, crystal=block.crystal_ids[ev].astype(np.int16),
                             x=c[:, 0], y=c[:, 1], z=c[:, 2], energy=seg_e[ev, seg],
                             time=t0[ev], fom=np.zeros(ev.size, np.float32))
        return PsaBlock(events=events, hits=hits)


class Broken(PsaAlgorithm):
    """Fails on the first block (a test algorithm)."""

    name = "broken"

    def analyse(self, block: Any) -> Any:
        raise RuntimeError("kaput\nsecond line")


class AlgorithmsPlugin:
    """A plugin object registering PSA algorithms, as a third-party module would."""

    def __init__(self, *classes: type) -> None:
        self.classes = classes

    @hookimpl
    def gpsa_register_psa_algorithms(self, register: Callable[[type], None]) -> None:
        for cls in self.classes:
            register(cls)


@pytest.fixture
def test_algorithms() -> Iterator[None]:
    """Built-ins plus an in-test plugin (no installed distribution, no entry points)."""
    reset_plugin_manager(create_plugin_manager(extra=[AlgorithmsPlugin(SegmentCentre, Broken)],
                                               autoload=False))
    yield
    reset_plugin_manager()


@pytest.fixture
def few_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny speed table (the full one is tests/bench/test_cli_bench.py's business)."""
    from gpsa.bench.benchmark import Case

    monkeypatch.setattr("gpsa.bench.report.default_cases", lambda device: [
        Case("reference", "full", 0.3), Case("numba", "full", 0.3)])


def _row(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in data["algorithms"] if r["name"] == name)


def test_in_test_plugin_beside_the_grid_search(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], test_algorithms: None,
        few_cases: None) -> None:
    out = tmp_path / "psa.json"
    assert main([*TINY, "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["name"] for r in data["algorithms"]] == ["grid-search", "broken", "segment-centre"]
    grid = _row(data, "grid-search")
    speed = next(r for r in data["speed"] if r["label"] == "numba full p=0.3 rank=64")
    assert grid["events_per_s"] == speed["events_per_s"] and grid["speed_vs_grid_search"] == 1.0
    centre = _row(data, "segment-centre")
    assert centre["error"] is None and centre["events"] == 60 == grid["events"]
    assert centre["events_per_s"] > 0 and centre["searches_per_s"] > 0
    assert centre["speed_vs_grid_search"] == pytest.approx(
        centre["events_per_s"] / grid["events_per_s"])
    assert centre["setup_s"] >= 0 and centre["settings"] == {"threshold_kev": 15.0}
    for r in (grid, centre):
        acc = r["accuracy"]
        assert set(acc) >= {"median_3d_mm", "fwhm_x_mm", "fwhm_y_mm", "fwhm_z_mm",
                            "outliers_5mm_pct", "hits_per_event"}
        assert math.isfinite(acc["median_3d_mm"])
    # a segment's centre is much worse than the grid search
    assert grid["accuracy"]["median_3d_mm"] < centre["accuracy"]["median_3d_mm"]
    broken = _row(data, "broken")
    assert broken["error"] == "analyse: RuntimeError: kaput second line"
    assert broken["events_per_s"] is None and broken["accuracy"] is None
    text = capsys.readouterr().out
    lines = [ln for ln in text.splitlines() if ln.startswith("broken")]
    assert len(lines) == 1 and "FAILED: analyse: RuntimeError: kaput" in lines[0]
    assert any(ln.startswith("segment-centre\t") for ln in text.splitlines())


def test_psa_option_restricts_and_checks_names(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        test_algorithms: None) -> None:
    seen: list[Any] = []

    def fake_run_all(**kw: Any) -> dict[str, Any]:
        seen.append(kw["algorithms"])
        raise SystemExit(0)  # stop after the arguments were handed over

    monkeypatch.setattr("gpsa.bench.report.run_all", fake_run_all)
    for args, expected in ((["--psa", "segment-centre,grid-search"], ["segment-centre"]),
                           (["--no-plugins"], []), ([], ["broken", "segment-centre"])):
        with pytest.raises(SystemExit):
            main([*TINY, *args])
        assert seen.pop() == expected
    assert main([*TINY, "--psa", "segment-centr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown PSA algorithm 'segment-centr'" in err[0]
    assert "did you mean 'segment-centre'" in err[0] and not seen


def test_no_algorithms_no_section(test_algorithms: None) -> None:
    from gpsa.bench.benchmark import Case
    from gpsa.bench.report import run_all
    from gpsa.device import select_device

    data = run_all(device=select_device("cpu"), source="toy-small", events=40,
                   reference_events=10, samples=30, repeat=1, algorithms=[],
                   cases=[Case("numba", "ags", 0.3)])
    assert "algorithms" not in data
    data = run_all(device=select_device("cpu"), source="toy-small", events=40,
                   reference_events=10, samples=30, repeat=1, algorithms=["segment-centre"],
                   cases=[Case("numba", "ags", 0.3)])
    # the default grid search is not in the speed table: timed on its own
    grid, centre = data["algorithms"]
    assert grid["name"] == "grid-search" and grid["events_per_s"] > 0
    assert centre["speed_vs_grid_search"] > 0


@pytest.mark.skipif(importlib.util.find_spec("gpsa_mlpsa") is None,
                    reason="gpsa-mlpsa is not installed (pip install plugins/gpsa-mlpsa)")
def test_mlpsa_row_in_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str], few_cases: None) -> None:
    """The installed plugin, found through its entry point, in `gpsa bench` (the issue's
    must-show)."""
    monkeypatch.delenv("GPSA_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("GPSA_BLOCK_PLUGINS", raising=False)
    reset_plugin_manager()
    try:
        out = tmp_path / "psa.json"
        assert main([*TINY, "--psa", "mlpsa", "--output", str(out)]) == 0
    finally:
        reset_plugin_manager()
    data = json.loads(out.read_text())
    assert [r["name"] for r in data["algorithms"]] == ["grid-search", "mlpsa"]
    ml = _row(data, "mlpsa")
    assert ml["error"] is None, ml["error"]
    assert ml["plugin"] == "mlpsa" and ml["distribution"] == "gpsa-mlpsa"
    assert ml["events"] == 60 and ml["events_per_s"] > 0 and ml["searches_per_s"] > 0
    assert ml["speed_vs_grid_search"] > 0 and ml["setup_s"] > 0
    assert ml["settings"]["neighbours"] == 4
    assert 0 < ml["accuracy"]["median_3d_mm"] < 6.0
    assert 0 < data["algorithms"][0]["accuracy"]["median_3d_mm"] < 6.0
    text = capsys.readouterr().out
    assert "PSA algorithms on the same 60 events" in text
    assert any(ln.startswith("mlpsa\tmlpsa\t") for ln in text.splitlines())
