"""Transport histories: energy conservation, pair production, points inside the crystals,
determinism, the output file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpsa.simulate.transport import (
    ArrayGeometry,
    TransportConfig,
    line_summary,
    parse_source,
    read_transport,
    transport_gammas,
    transport_source,
)
from gpsa.simulate.transport.physics import ELECTRON_MASS_KEV
from gpsa.simulate.transport.table import POINT_COLUMNS

MC2 = ELECTRON_MASS_KEV


@pytest.fixture(scope="module")
def shell() -> ArrayGeometry:
    return ArrayGeometry.shell(30, 235.0)


@pytest.fixture(scope="module")
def co60(shell: ArrayGeometry):
    return transport_source(shell, parse_source("co60"), 20_000, seed=4)


def test_energy_is_conserved_per_gamma(co60) -> None:
    g = co60.gammas
    np.testing.assert_allclose(g["deposited"] + g["escaped"] + g["lost"], g["energy"],
                               atol=1e-6)
    assert np.all(g["lost"] == 0)
    # per-gamma sums of the point table equal the deposited column
    pts = co60.points
    key = pts["event"].astype(np.int64) * 2 + pts["gamma"]
    dep = np.bincount(key, weights=pts["energy"], minlength=len(g["energy"]))
    np.testing.assert_allclose(dep, g["deposited"], atol=1e-6)
    assert np.all(pts["energy"] > 0)


def test_points_lie_inside_their_crystals(shell: ArrayGeometry, co60) -> None:
    pts = co60.points
    for cid in np.unique(pts["crystal_id"]):
        sel = pts["crystal_id"] == cid
        xyz = np.stack([pts[c][sel] for c in "xyz"], axis=1)
        assert shell.contains(int(cid), xyz).all()
        lab = shell.transform.to_lab(shell.index_of(int(cid)), xyz)
        np.testing.assert_allclose(lab, np.stack([pts[f"lab_{c}"][sel] for c in "xyz"], 1),
                                   atol=1e-9)
    # the time is the flight time from the centre (>= distance / c)
    r = np.linalg.norm(co60.lab, axis=1)
    assert np.all(pts["time"] * 299.792458 >= r - 1e-6)


def test_pair_production_emits_two_back_to_back_511s(shell: ArrayGeometry) -> None:
    geom = ArrayGeometry.shell(1, 100.0)
    axis = geom.transform.rotations[0, :, 2]
    n = 4000
    origin = np.tile(geom.transform.to_lab(0, np.array([20.0, 0.0, 0.0])) - 5 * axis, (n, 1))
    h = transport_gammas(geom, origin, np.tile(axis, (n, 1)), np.full(n, 6000.0), seed=2)
    pair = np.flatnonzero(h.process == 3)
    assert pair.size > 100
    np.testing.assert_allclose(h.escaped + np.bincount(h.gamma, h.energy, n), 6000.0)
    pairs_seen = 0
    for i in pair:
        g = h.gamma[i]
        assert h.photon[i] == 0
        rows = np.flatnonzero(h.gamma == g)
        first = {p: rows[h.photon[rows] == p][:1] for p in (1, 2)}
        for p in (1, 2):  # each annihilation photon deposits at most mc²
            assert h.energy[rows[h.photon[rows] == p]].sum() <= MC2 + 1e-6
        if first[1].size and first[2].size:
            a = h.xyz[first[1][0]] - h.xyz[i]
            b = h.xyz[first[2][0]] - h.xyz[i]
            cos = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
            assert cos == pytest.approx(-1.0, abs=1e-6)
            pairs_seen += 1
        # the pair point's deposit leaves exactly 2 mc² to the annihilation photons
        assert h.energy[i] <= 6000.0 - 2 * MC2 + 1e-6
    assert pairs_seen > 20
    # only the pair point of a full-energy first interaction deposits E - 2mc2
    assert np.any(np.abs(h.energy[pair] - (6000.0 - 2 * MC2)) < 1e-6)


def test_deterministic_with_seed_and_chunk_independent(shell: ArrayGeometry) -> None:
    src = parse_source("line:1332.5")
    a = transport_source(shell, src, 3000, seed=9)
    b = transport_source(shell, src, 3000, seed=9, config=TransportConfig(chunk=257))
    c = transport_source(shell, src, 3000, seed=10)
    for k in POINT_COLUMNS:
        np.testing.assert_array_equal(a.points[k], b.points[k])
    assert a.n_points != c.n_points or not np.array_equal(a.points["x"], c.points["x"])


def test_file_round_trip_and_summary(tmp_path: Path, co60) -> None:
    path = co60.write(tmp_path / "co60.h5")
    back = read_transport(path)
    assert back.n_points == co60.n_points
    np.testing.assert_array_equal(back.points["crystal_id"], co60.points["crystal_id"])
    np.testing.assert_allclose(back.points["energy"], co60.points["energy"], rtol=1e-6)
    assert back.attrs["source"] == "co60" and back.attrs["n_decays"] == 20_000
    s = line_summary(co60)
    assert [r["energy_kev"] for r in s["lines"]] == [1173.2, 1332.5]
    for r in s["lines"]:
        assert 0 < r["photopeak_efficiency"] < r["interacted"] < 1
        assert r["peak_to_total"] == pytest.approx(r["photopeak_efficiency"] / r["interacted"])
    assert 0 < s["per_decay"]["all_gammas_full"] < s["lines"][0]["photopeak_efficiency"]
