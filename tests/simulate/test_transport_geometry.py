"""Transport geometry: ray–crystal intersection against the point test, A180 composition
against the GANIL crmat table, crystal subsets and the shell's overlap check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpsa.detector import default_shape, fit_global_rotation_z, load_asolid, load_crmat
from gpsa.detector.shape import CrystalShape
from gpsa.errors import ConfigError
from gpsa.simulate.transport import ArrayGeometry, parse_crystals
from gpsa.simulate.transport._intersect import MAX_ROOTS, crystal_interval
from gpsa.simulate.transport.engine import pack

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "agata"
needs_tables = pytest.mark.skipif(not (DATA / "agata_capsule.geo").is_file(),
                                  reason=f"public A180 tables not found in {DATA}")


def pieces(shape: CrystalShape, o: np.ndarray, d: np.ndarray, hi: float) -> list[tuple]:
    """All germanium pieces along o + t d, t in [0, hi], from the kernel."""
    geom = ArrayGeometry((shape,), np.zeros(1, np.int64), np.zeros(1, np.int64),
                         _identity(), "one")
    _, _, _, _, _, front, grad, par = pack(geom)
    buf, out = np.empty(MAX_ROOTS + 2), np.empty(2)
    found, lo = [], 0.0
    while crystal_interval(front, grad, par, 0, o, d, lo, hi, buf, out):
        found.append((out[0], out[1]))
        lo = out[1]
    return found


def _identity():
    from gpsa.detector import LabTransform

    return LabTransform(np.eye(3)[None], np.zeros((1, 3)))


def shapes_to_check() -> list:
    out = [pytest.param(default_shape("B"), id="synthetic-B")]
    if (DATA / "agata_capsule.geo").is_file():
        out += [pytest.param(s, id=f"A180-{k}")
                for k, s in load_asolid(DATA / "agata_capsule.geo").items()]
    return out


@pytest.mark.parametrize("shape", shapes_to_check())
def test_intersection_matches_point_test(shape: CrystalShape) -> None:
    rng = np.random.default_rng(1)
    step, hi, tol = 0.02, 250.0, 0.05
    t = np.arange(0.0, hi, step) + step / 2
    n_rays, n_in = 0, 0
    while n_rays < 300:
        o = rng.uniform([-60, -60, -40], [60, 60, 130])
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        if n_rays % 5 == 0:  # rays through the bore region and near the axis
            o = np.array([rng.uniform(-4, 4), rng.uniform(-4, 4), 130.0])
            d = np.array([rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), -1.0])
            d /= np.linalg.norm(d)
        inside = shape.contains(o + t[:, None] * d)
        in_piece = np.zeros(len(t), bool)
        for a, b in pieces(shape, o, d, hi):
            assert b > a
            in_piece |= (t >= a) & (t <= b)
            mid = o + 0.5 * (a + b) * d
            assert shape.contains(mid)
        differ = inside != in_piece
        if differ.any():  # only within tol of a boundary of the point test
            edges = t[np.flatnonzero(np.diff(inside.astype(int)) != 0)]
            for td in t[differ]:
                assert edges.size and np.min(np.abs(edges - td)) < tol, (o, d, td)
        n_rays += 1
        n_in += int(inside.any())
    assert n_in > 50


def test_parse_crystals() -> None:
    assert parse_crystals("0-5", 180) == [0, 1, 2, 3, 4, 5]
    assert parse_crystals("00B,12C,3", 180) == [1, 3, 38]
    assert parse_crystals("00A-01A", 180) == [0, 1, 2, 3]
    assert parse_crystals(None, 180) is None and parse_crystals("all", 180) is None
    with pytest.raises(ConfigError):
        parse_crystals("5-2", 180)
    with pytest.raises(ConfigError):
        parse_crystals("200", 180)


def test_shell_refuses_overlap_and_places_fronts() -> None:
    with pytest.raises(ConfigError, match="overlap"):
        ArrayGeometry.shell(150, 235.0)
    g = ArrayGeometry.shell(30, 235.0, crystals="0-5")
    assert g.crystal_ids.tolist() == [0, 1, 2, 3, 4, 5]
    front = g.transform.to_lab(np.arange(6), np.zeros((6, 3)))
    np.testing.assert_allclose(np.linalg.norm(front, axis=1), 235.0)
    # the crystal axis points away from the centre
    axis = g.transform.rotations[:, :, 2]
    np.testing.assert_allclose(np.sum(axis * front, axis=1) / 235.0, 1.0, atol=1e-12)


@needs_tables
def test_composition_reproduces_crmat_for_crystals_0_to_5() -> None:
    g = ArrayGeometry.from_tables(DATA, crystals="0-5")
    crmat = load_crmat(DATA / "GANIL_AGATA_crmat.dat")
    ref_rot, ref_tr = crmat.rotations[:6], crmat.translations[:6]
    # third matrix row and Tz agree as they are ...
    np.testing.assert_allclose(g.transform.rotations[:, 2, :], ref_rot[:, 2, :], atol=2e-5)
    np.testing.assert_allclose(g.transform.translations[:, 2], ref_tr[:, 2], atol=2e-3)
    # ... x and y after one rotation about the beam axis
    from gpsa.detector import LabTransform

    sub = LabTransform(ref_rot, ref_tr)
    angle = fit_global_rotation_z(g.transform, sub)
    d_rot, d_tr = g.transform.rotated_z(angle).deviation(sub)
    assert d_rot < 1e-4 and d_tr < 1e-2
    assert angle == pytest.approx(-33.9, abs=0.1)
    assert g.shape_of(4).name == "B" and len(ArrayGeometry.from_tables(DATA)) == 180
