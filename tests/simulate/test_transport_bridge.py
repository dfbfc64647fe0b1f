"""Transport points → the event simulator: traces for given points, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpsa.basis.grid import BasisGrid
from gpsa.basis.io import write_basis
from gpsa.block import CORE
from gpsa.cli.main import main
from gpsa.simulate import SimConfig, read_truth
from gpsa.simulate.transport import ArrayGeometry, parse_source, read_transport, transport_source
from gpsa.simulate.transport.bridge import crystal_batches, crystal_points


@pytest.fixture(scope="module")
def result():
    return transport_source(ArrayGeometry.shell(30, 235.0, crystals="0-2"),
                            parse_source("cs137"), 20_000, seed=6)


def test_points_become_crystal_events(result, sim_grid: BasisGrid, quiet: SimConfig) -> None:
    cid = int(np.bincount(result.points["crystal_id"]).argmax())
    cp = crystal_points(result, cid, sim_grid)
    sel = result.points["crystal_id"] == cid
    assert len(cp.interactions) == int(sel.sum())
    assert len(cp.decays) == len(np.unique(result.points["event"][sel]))
    assert np.all(np.diff(cp.timestamps.astype(np.int64)) >= 0)
    batches = crystal_batches(result, cid, sim_grid, config=quiet, seed=1)
    n = sum(len(b.block) for b in batches)
    assert n == len(cp.decays)
    b = batches[0]
    assert b.block.traces.shape[1:] == (38, quiet.n_samples)
    assert np.all(b.block.crystal_ids == cid)
    # the core energy is the sum of the given points' energies (noise and smearing off)
    truth_e = b.truth.events["energy"]
    np.testing.assert_allclose(b.block.energies[:, CORE], truth_e, rtol=2e-3, atol=0.05)
    # truth points are the transport points of those decays
    first = result.points["event"][sel][0]
    rows = sel & (result.points["event"] == first)
    np.testing.assert_allclose(np.sort(b.truth.interactions["energy"][
        b.truth.interactions["event_number"] == first]), np.sort(result.points["energy"][rows]),
        rtol=1e-6)


def test_cli_transport_with_traces(tmp_path: Path, sim_basis, capsys) -> None:
    basis = tmp_path / "basis.h5"
    write_basis(basis, sim_basis)
    out = tmp_path / "pts.h5"
    rc = main(["transport", "--source", "line:1332", "--decays", "3000", "--shell", "30",
               "--crystals", "0-2", "--seed", "2", "--out", str(out), "--basis", str(basis),
               "--traces", str(tmp_path / "sim"), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["lines"][0]["energy_kev"] == 1332.0
    res = read_transport(out)
    hit = sorted(np.unique(res.points["crystal_id"]).tolist())
    assert [c["crystal_id"] for c in summary["traces"]["crystals"]] == hit
    truth = read_truth(tmp_path / "sim" / "truth.h5")
    assert truth.n_events == sum(c["events"] for c in summary["traces"]["crystals"])
    for c in summary["traces"]["crystals"]:
        assert (tmp_path / "sim" / c["file"]).stat().st_size > 0


def test_cli_errors(tmp_path: Path, capsys) -> None:
    assert main(["transport", "--source", "xx", "--decays", "10", "--out",
                 str(tmp_path / "a.h5")]) == 2
    assert "co60, cs137 or line" in capsys.readouterr().err
