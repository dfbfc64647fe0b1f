"""A simulated run on disk: ADF round trip, truth.h5 layout, manifest, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from gpsa.adf import read_all
from gpsa.basis.grid import BasisGrid
from gpsa.basis.io import write_basis
from gpsa.basis.model import Basis
from gpsa.block import CrystalBlock
from gpsa.cli.main import main
from gpsa.simulate import CrystalSpec, SimConfig, read_truth, simulate_events, write_simulation
from gpsa.simulate.truth import EVENT_COLUMNS, INTERACTION_COLUMNS


def test_adf_round_trip_truth_and_manifest(tmp_path: Path, sim_grid: BasisGrid) -> None:
    cfg = SimConfig(block_size=40, rate_hz=5000.0)
    specs = [CrystalSpec("00A", 0, sim_grid), CrystalSpec("01B", 4, sim_grid)]
    manifest = write_simulation(tmp_path / "run", specs, 100, config=cfg, seed=11)
    run = tmp_path / "run"
    truth = read_truth(run / "truth.h5")
    assert truth.n_events == 200
    for spec in specs:
        expected = simulate_events(sim_grid, 100, crystal_id=spec.crystal_id, config=cfg, seed=11)
        got = read_all(run / spec.name / "events.adf").crystal
        assert isinstance(got, CrystalBlock) and got.equals(expected.block)
        mine = truth.events["crystal_id"] == spec.crystal_id
        np.testing.assert_array_equal(truth.events["timestamp"][mine], expected.block.timestamps)
        sel = truth.interactions["crystal_id"] == spec.crystal_id
        np.testing.assert_array_equal(truth.interactions["x"][sel],
                                      expected.truth.interactions["x"])
    on_disk = json.loads((run / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert on_disk["format"] == "gpsa-simulation" and on_disk["seed"] == 11
    assert SimConfig.from_dict(on_disk["settings"]) == cfg
    assert [c["file"] for c in on_disk["crystals"]] == ["00A/events.adf", "01B/events.adf"]
    assert on_disk["crystals"][1]["events"] == 100
    assert on_disk["crystals"][0]["interactions"] == int(
        (truth.interactions["crystal_id"] == 0).sum())


def test_truth_file_layout(tmp_path: Path, sim_grid: BasisGrid) -> None:
    write_simulation(tmp_path, [CrystalSpec("00C", 2, sim_grid)], 30, seed=1)
    with h5py.File(tmp_path / "truth.h5") as f:
        assert f.attrs["format"] == "gpsa-truth" and f.attrs["version"] == 1
        assert f.attrs["segment_order"] == "sector-major"
        for name, dtype in INTERACTION_COLUMNS.items():
            assert f["interactions"][name].dtype == np.dtype(dtype), name
        for name, dtype in EVENT_COLUMNS.items():
            assert f["events"][name].dtype == np.dtype(dtype), name
        assert f["events/event_number"].shape == (30,)
        assert np.all(f["interactions/crystal_id"][()] == 2)


def test_mixed_segment_orders_rejected(tmp_path: Path, sim_basis: Basis,
                                       sim_grid: BasisGrid) -> None:
    from gpsa.errors import ConfigError

    other = BasisGrid.from_basis(sim_basis.to_segment_order("ring-major"))
    with pytest.raises(ConfigError, match="segment orders"):
        write_simulation(tmp_path, [CrystalSpec("00A", 0, sim_grid),
                                    CrystalSpec("00B", 1, other)], 5)


def test_cli_simulate(tmp_path: Path, sim_basis: Basis,
                      capsys: pytest.CaptureFixture[str]) -> None:
    basis = write_basis(tmp_path / "toy.h5", sim_basis)
    out = tmp_path / "sim"
    code = main(["simulate", "--basis", str(basis), "--crystals", "00A,00B", "--events", "60",
                 "--rate", "2000", "--noise", "1.5", "--seed", "5", "--out", str(out),
                 "--multiplicity", "0.6,0.4", "--uniform", "200,1500", "--json"])
    assert code == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["settings"]["noise_kev"] == 1.5 and manifest["settings"]["rate_hz"] == 2000
    assert manifest["settings"]["energy_mode"] == "uniform"
    assert [c["geometry"] for c in manifest["crystals"]] == ["default A", "default A"]
    block = read_all(out / "00B" / "events.adf").crystal
    assert len(block) == 60 and np.all(block.crystal_ids == 1)
    e = read_truth(out / "truth.h5").events["energy"]
    assert np.all((e >= 200) & (e <= 1500))


def test_cli_simulate_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--basis", str(tmp_path / "missing.h5"), "--events", "5",
                 "--out", str(tmp_path / "o")])
    assert code == 1 and "missing file" in capsys.readouterr().err
    code = main(["simulate", "--basis", "x.h5", "--events", "5", "--out", str(tmp_path),
                 "--noise", "-1"])
    assert code == 2 and "noise_kev" in capsys.readouterr().err


def test_cli_simulate_one_basis_per_crystal(tmp_path: Path, sim_basis: Basis,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    a = write_basis(tmp_path / "a.h5", sim_basis)
    b = write_basis(tmp_path / "b.h5", sim_basis.replace(crystal_type="B", generator="other"))
    out = tmp_path / "sim"
    assert main(["simulate", "--basis", str(a), "--basis", f"00B={b}", "--crystals",
                 "00A,00B,2", "--events", "10", "--out", str(out), "--geometry", "none",
                 "--json"]) == 0
    crystals = json.loads(capsys.readouterr().out)["crystals"]
    assert [c["name"] for c in crystals] == ["00A", "00B", "00C"]
    assert [c["basis_generator"] for c in crystals] == [sim_basis.generator, "other",
                                                        sim_basis.generator]
    assert [c["geometry"] for c in crystals] == ["none"] * 3
    assert main(["simulate", "--basis", f"00B={b}", "--crystals", "00A", "--events", "1",
                 "--out", str(out)]) == 2
    assert "no basis for crystal 00A" in capsys.readouterr().err
