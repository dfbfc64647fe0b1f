"""Crystal → lab transforms: Euler matrices, LabTransform, table readers, the AGATA cross-check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpsa.detector import (
    GeometryError,
    LabTransform,
    euler_matrix,
    fit_global_rotation_z,
    load_aclust,
    load_aeuler,
    load_crmat,
    rotation_z,
    transform_from_euler,
)


def _random_transform(n: int, seed: int = 0) -> LabTransform:
    rng = np.random.default_rng(seed)
    rot = euler_matrix(*rng.uniform(-180, 180, (3, n)))
    return LabTransform(rot, rng.uniform(-250, 250, (n, 3)))


def test_euler_matrix_is_a_rotation_in_the_documented_order() -> None:
    r = euler_matrix(30.0, 40.0, 50.0)
    assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)
    assert np.allclose(euler_matrix(0, 0, 25.0), rotation_z(25.0))
    assert np.allclose(euler_matrix(25.0, 0, 0), rotation_z(25.0))
    ry = euler_matrix(0, 90.0, 0)  # Ry(90) maps z onto x
    assert np.allclose(ry @ [0, 0, 1], [1, 0, 0])
    assert np.allclose(r, rotation_z(50) @ euler_matrix(0, 40, 0) @ rotation_z(30))
    assert euler_matrix(np.zeros(4), np.zeros(4), np.arange(4.0)).shape == (4, 3, 3)
    assert np.allclose(rotation_z(90) @ [1, 0, 0], [0, 1, 0])  # counter-clockwise


def test_to_lab_and_back_vectorised_over_hits() -> None:
    tf = _random_transform(9)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 9, 1000)
    xyz = rng.uniform(-40, 90, (1000, 3))
    lab = tf.to_lab(ids, xyz)
    expected = np.array([tf.rotations[i] @ p + tf.translations[i] for i, p in zip(ids, xyz,
                                                                                    strict=True)])
    assert np.allclose(lab, expected)
    assert np.allclose(tf.to_crystal(ids, lab), xyz)
    assert tf.to_lab(4, xyz[:3]).shape == (3, 3)  # one crystal, several points
    assert np.allclose(tf.to_lab(4, xyz[0]), expected[0] if ids[0] == 4 else
                       tf.rotations[4] @ xyz[0] + tf.translations[4])
    with pytest.raises(GeometryError, match="outside 0..8"):
        tf.to_lab(9, xyz[0])
    with pytest.raises(GeometryError, match="integers"):
        tf.to_lab(np.array([0.5]), xyz[:1])
    with pytest.raises(GeometryError, match="do not match"):
        tf.to_lab(ids[:3], xyz[:4])


def test_lab_transform_validation_and_value_semantics() -> None:
    tf = _random_transform(3)
    with pytest.raises(GeometryError, match="not orthonormal"):
        LabTransform(tf.rotations * 1.01, tf.translations)
    with pytest.raises(GeometryError, match=r"\(n, 3, 3\)"):
        LabTransform(tf.rotations, tf.translations[:2])
    same = LabTransform(tf.rotations.copy(), tf.translations.copy())
    assert same == tf and hash(same) == hash(tf) and len(tf) == 3
    assert not tf.rotations.flags.writeable


def test_fit_global_rotation_recovers_a_known_angle() -> None:
    a = _random_transform(30, seed=4)
    b = a.rotated_z(-33.9)
    assert fit_global_rotation_z(a, b) == pytest.approx(-33.9, abs=1e-9)
    assert fit_global_rotation_z(b, a) == pytest.approx(33.9, abs=1e-9)
    d_rot, d_tr = a.rotated_z(-33.9).deviation(b)
    assert d_rot < 1e-12 and d_tr < 1e-9
    with pytest.raises(GeometryError, match="cannot fit"):
        fit_global_rotation_z(a, _random_transform(3))


def _write_crmat(path: Path, tf: LabTransform) -> None:
    lines = []
    for i, (r, t) in enumerate(zip(tf.rotations, tf.translations, strict=True)):
        lines.append(f"{i:4d}  0 {t[0]:12.5f} {t[1]:12.5f} {t[2]:12.5f}")
        lines += [f"   {k + 1} {r[k, 0]:10.5f} {r[k, 1]:10.5f} {r[k, 2]:10.5f}" for k in range(3)]
    path.write_text("\n".join(lines) + "\n")


def test_crmat_reader_round_trip_and_errors(tmp_path: Path) -> None:
    tf = _random_transform(4)
    path = tmp_path / "x_crmat.dat"
    _write_crmat(path, tf)
    back = load_crmat(path)
    d_rot, d_tr = back.deviation(tf)
    assert len(back) == 4 and d_rot < 1e-5 and d_tr < 1e-5
    text = path.read_text().splitlines()
    cases = [
        (text[:3] + text[4:], r"x_crmat\.dat:4: crystal 0 has 2 matrix rows"),
        (text[:2] + [text[3], text[2]] + text[4:], r"x_crmat\.dat:3: expected matrix row 2"),
        (text[:15], r"the last\) has 2 matrix rows"),
        (text[4:], r"crystal ids missing: \[0\]"),
        (text + text[:4], r"x_crmat\.dat:17: duplicate"),
        (["1 2 3"], r"x_crmat\.dat:1: expected at least 4 numbers"),
    ]
    for lines, message in cases:
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(GeometryError, match=message):
            load_crmat(path)


def test_euler_readers_report_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "e.geo"
    path.write_text("0 0 1 2 3 4 5 6\n0 0 1 2 3 4 5 6\n")
    with pytest.raises(GeometryError, match=r"e\.geo:2: cluster 0 placed twice"):
        load_aeuler(path)
    path.write_text("1 0 1 2 3 4 5 6\n")
    with pytest.raises(GeometryError, match="numbered 0..0"):
        load_aeuler(path)
    path.write_text("0 0 0 1 2 3 4 5 6\n0 4 1 1 2 3 4 5 6\n")
    with pytest.raises(GeometryError, match=r"e\.geo:2: shape 4"):
        load_aclust(path)
    path.write_text("0 0 0 1 2 3 4 5\n")
    with pytest.raises(GeometryError, match=r"e\.geo:1: expected at least 9 numbers"):
        load_aclust(path)


def test_public_tables_parse(agata: dict[str, Path]) -> None:
    clusters, crystals = load_aeuler(agata["aeuler"]), load_aclust(agata["aclust"])
    assert clusters.cluster.tolist() == list(range(60)) and clusters.angles_deg.shape == (60, 3)
    assert crystals.shape.tolist() == [0, 1, 2]
    assert len(load_crmat(agata["crmat"])) == 180


def test_euler_transform_agrees_with_the_ganil_crmat_table(agata: dict[str, Path]) -> None:
    """aeuler ∘ aclust equals the GANIL crmat table for all 180 crystals after one rotation
    about the beam axis (expected ≈ −33.9°); the third rows and Tz agree without it."""
    euler = transform_from_euler(agata["aeuler"], agata["aclust"])
    crmat = load_crmat(agata["crmat"])
    assert len(euler) == len(crmat) == 180
    # z components are untouched by a rotation about z: they must agree directly.
    assert np.abs(euler.rotations[:, 2, :] - crmat.rotations[:, 2, :]).max() < 1e-3
    assert np.abs(euler.translations[:, 2] - crmat.translations[:, 2]).max() < 1e-3
    angle = fit_global_rotation_z(euler, crmat)
    d_rot, d_tr = euler.rotated_z(angle).deviation(crmat)
    print(f"\nAGATA euler+cluster vs GANIL crmat: fitted rotation about z {angle:.5f} deg; "
          f"max deviation after it: rotation {d_rot:.2e}, translation {d_tr:.2e} mm "
          f"(180 crystals)")
    assert angle == pytest.approx(-33.9, abs=0.01)
    assert d_rot < 1e-3 and d_tr < 1e-3
    # Crystal ids 3·cluster + shape: the same lab point from either table.
    ids = np.arange(180)
    pts = np.tile([10.0, -5.0, 45.0], (180, 1))
    assert np.abs(euler.rotated_z(angle).to_lab(ids, pts) - crmat.to_lab(ids, pts)).max() < 1e-2
