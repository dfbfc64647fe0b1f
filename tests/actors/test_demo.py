"""``gpsa demo``: the README's main command, small (coarser bases than the real demo's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpsa.cli.main import main


@pytest.fixture
def coarse_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's two physical bases on coarser grids (a few seconds instead of ~15)."""
    from gpsa.runtime import demo

    for name, value in (("PSA_GRID_MM", 6.0), ("PSA_FIELD_GRID_MM", 3.0),
                        ("TRUTH_GRID_MM", 5.0), ("TRUTH_FIELD_GRID_MM", 2.5)):
        monkeypatch.setattr(demo, name, value)


def test_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str], coarse_demo: None) -> None:
    from gpsa.basis.io import load_basis
    from gpsa.config.files import read_toml
    from gpsa.runtime.demo import compare_with_truth, prepare_demo

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--crystals", "1", "--events", "100", "--mode",
                 "simple", "-q"]) == 0
    text = capsys.readouterr().out
    assert "PSA vs truth" in text and "00A\t100\t" in text
    assert (out / "out" / "00A" / "psa.adf").stat().st_size > 0
    assert main(["config", "check", str(out / "run.toml")]) == 0

    # the PSA basis and the basis the events come from: both physical, different settings
    stages = read_toml(out / "run.toml")["stage"]
    sim = next(s for s in stages if s["actor"] == "simulator")
    psa = next(s for s in stages if s["actor"] == "psa")
    assert sim["basis"] != psa["basis"]
    searched, truth = load_basis(out / psa["basis"]), load_basis(out / sim["basis"])
    gen_s, gen_t = json.loads(searched.generator), json.loads(truth.generator)
    assert gen_s["generator"] == gen_t["generator"] == "gpsa.basis.generate"
    assert (searched.grid_mm, gen_s["settings"]["field_grid_mm"],
            gen_s["settings"]["preamp_tau_ns"]) == (6.0, 3.0, 35.0)
    assert (truth.grid_mm, gen_t["settings"]["field_grid_mm"],
            gen_t["settings"]["preamp_tau_ns"]) == (5.0, 2.5, 38.0)
    assert searched.crystal_type == truth.crystal_type == "A"
    assert list((out / "basis" / "cache").glob("fields-*.npz"))
    assert compare_with_truth(out / "out" / "00A")["median_mm"] < 8.0

    # a second demo in the same folder reuses the bases
    files = {p: p.stat().st_mtime_ns for p in (out / "basis").glob("*.h5")}
    assert len(files) == 2
    prepare_demo(out, crystals=2, events=10)
    assert {p: p.stat().st_mtime_ns for p in (out / "basis").glob("*.h5")} == files



def test_demo_through_the_central_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         coarse_demo: None) -> None:
    """``gpsa demo --redis``: embedded Redis, 2 PSA worker processes per crystal, the same
    files as the in-process demo."""
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--crystals", "2", "--events", "300", "--mode",
            "simple", "-q"]
    assert main(args) == 0
    local = {c: (out / "out" / c / "psa.adf").read_bytes() for c in ("00A", "00B")}
    capsys.readouterr()
    assert main([*args, "--redis"]) == 0
    text = capsys.readouterr().out
    assert "00A\t300\t" in text and "00B\t300\t" in text  # compared with the truth
    for crystal, data in local.items():
        assert (out / "out" / crystal / "psa.adf").read_bytes() == data
        counts = [json.loads(p.read_text())["result"]["actors"][0]["counters"]
                  ["blocks_received"] for p in (out / "workers").glob(f"{crystal}-*/out/*/"
                                                                       "gpsa-run.json")]
        assert len(counts) == 2 and sum(counts) == 300 // 250 + 1
    summary = json.loads((out / "out" / "00A" / "summary.json").read_text())
    assert summary["events"] == 300 and summary["complete"]
