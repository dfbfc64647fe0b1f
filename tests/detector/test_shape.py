"""Crystal shape: volume, inside/bore tests, cross-sections, the asolid reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpsa.detector import CrystalShape, GeometryError, default_shape, load_asolid
from gpsa.detector.polygon import polygon_disk_area
from gpsa.errors import ConfigError


def _shoelace(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


@pytest.mark.parametrize("name", ["A", "B", "C", "default"])
def test_default_volume_is_plausible_and_matches_monte_carlo(name: str) -> None:
    shape = default_shape(name)
    volume = shape.volume_cm3()
    assert 300 < volume < 420
    lo, hi = shape.bounding_box()
    pts = lo + (hi - lo) * np.random.default_rng(7).random((400_000, 3))
    mc = shape.contains(pts).mean() * np.prod(hi - lo) / 1000.0
    assert mc == pytest.approx(volume, rel=0.01)


def test_default_variants_are_distinct_and_b_c_are_mirror_images() -> None:
    a, b, c = (default_shape(n) for n in "ABC")
    assert a != b and b != c and len({a, b, c}) == 3
    mirrored = b.front * [1, -1]
    assert np.allclose(np.sort(np.arctan2(mirrored[:, 1], mirrored[:, 0])),
                       np.sort(np.arctan2(c.front[:, 1], c.front[:, 0])))
    with pytest.raises(ConfigError, match="unknown default crystal shape"):
        default_shape("D")


def test_contains_and_bore_basics() -> None:
    s = default_shape("A")
    pts = np.array([
        [0, 0, 5],      # on the axis in front of the bore: germanium
        [0, 0, 50],     # in the bore
        [0, 0, -1],     # in front of the crystal
        [0, 0, 91],     # behind it
        [33, 0, 0.5],   # near front corner 0 (at 34 mm): inside
        [0, 33, 0.5],   # across a front edge (apothem 29.4 mm): outside
        [0, 39, 89],    # back: the hexagon is wider than the cylinder, r = 39 inside
        [0, 41, 89],    # outside the 40 mm cylinder
        [5.5, 0, 50],   # just outside the bore wall
    ])
    assert s.contains(pts).tolist() == [True, False, False, False, True, False, True, False, True]
    assert s.in_bore(pts).tolist() == [False, True, False, False, False, False, False, False,
                                       False]
    assert s.bore_start == pytest.approx(13.0)
    assert s.contains(pts.reshape(3, 3, 3)).shape == (3, 3)
    with pytest.raises(GeometryError, match="points must have shape"):
        s.contains(np.zeros((4, 2)))


def test_hexagon_interpolation_and_bounding_box() -> None:
    s = default_shape("B")
    assert np.allclose(s.hexagon_at(0.0), s.front)
    assert np.allclose(s.hexagon_at(s.length), s.back)
    assert np.allclose(s.hexagon_at(s.length / 2), (s.front + s.back) / 2)
    assert s.hexagon_at(np.linspace(0, 90, 5)).shape == (5, 6, 2)
    lo, hi = s.bounding_box()
    pts = lo - 5 + (hi - lo + 10) * np.random.default_rng(1).random((50_000, 3))
    inside = pts[s.contains(pts)]
    assert len(inside) > 1000
    assert np.all(inside >= lo) and np.all(inside <= hi)


def test_cross_sections_are_exact() -> None:
    s = default_shape("A")
    # At the front the hexagon lies inside the cylinder: the shoelace area, no bore yet.
    assert s.area_at(5.0) == pytest.approx(_shoelace(s.hexagon_at(5.0)), rel=1e-12)
    # At the back the hexagon encloses the cylinder: a disk minus the bore.
    assert s.area_at(85.0) == pytest.approx(np.pi * (40**2 - 5**2), rel=1e-12)
    assert s.area_at(-1.0) == 0.0 and s.area_at(90.5) == 0.0


def test_polygon_disk_area_matches_a_fine_grid() -> None:
    poly = default_shape("B").hexagon_at(60.0)  # corners outside, edges partly inside r = 40
    step = 0.05
    ax = np.arange(-50, 50, step) + step / 2
    x, y = np.meshgrid(ax, ax, indexing="ij")
    pts = np.stack([x.ravel(), y.ravel(), np.full(x.size, 60.0)], axis=1)
    shape = default_shape("B")
    grid = (shape.in_hexagon(pts) & (x.ravel() ** 2 + y.ravel() ** 2 <= 1600)).sum() * step**2
    assert polygon_disk_area(poly, 40.0) == pytest.approx(grid, rel=2e-4)
    assert polygon_disk_area(poly, 1000.0) == pytest.approx(_shoelace(poly), rel=1e-12)
    assert polygon_disk_area(poly, 10.0) == pytest.approx(np.pi * 100, rel=1e-12)


def test_shape_validation_and_value_semantics() -> None:
    s = default_shape("A")
    with pytest.raises(GeometryError, match="counter-clockwise"):
        CrystalShape("x", s.front[::-1], s.back)
    with pytest.raises(GeometryError, match=r"\(6, 2\)"):
        CrystalShape("x", s.front[:5], s.back)
    with pytest.raises(GeometryError, match="hole_radius"):
        CrystalShape("x", s.front, s.back, hole_radius=40.0)
    copy = CrystalShape("A", s.front.copy(), s.back.copy())
    assert copy == s and hash(copy) == hash(s)
    assert not s.front.flags.writeable


def test_load_asolid_public_table(agata: dict[str, Path]) -> None:
    shapes = load_asolid(agata["asolid"])
    assert list(shapes) == ["A", "B", "C"]
    for name, shape in shapes.items():
        assert shape.name == name
        assert shape.front.shape == (6, 2) and shape.back.shape == (6, 2)
        assert shape.hole_radius == 5.0 and shape.radius == 40.0 and shape.length == 90.0
        assert shape.hole_depth == pytest.approx(77.0)  # holeL = 13 mm from the front
        assert 360 < shape.volume_cm3() < 400
    assert shapes["A"].front[0] == pytest.approx([33.906177, 0.0])
    assert shapes["C"].back[5] == pytest.approx([21.492077, -43.323070])


ASOLID_OK = """# minimal asolid
0 6 0  34.0 0.0 0.0  48.5 0.0 90.0
0 6 1  17.0 29.44486 0.0  24.25 42.00371 90.0
0 6 2 -17.0 29.44486 0.0 -24.25 42.00371 90.0
0 6 3 -34.0 0.0 0.0 -48.5 0.0 90.0
0 6 4 -17.0 -29.44486 0.0 -24.25 -42.00371 90.0
0 6 5  17.0 -29.44486 0.0  24.25 -42.00371 90.0
0 0 0  4.5 40.0 90.0 0 0 0
0 0 1  15.0 1.0 0.6 0.4 0.8 1.3
"""


def test_load_asolid_minimal_file(tmp_path: Path) -> None:
    path = tmp_path / "solid.geo"
    path.write_text(ASOLID_OK)
    shape = load_asolid(path)["A"]
    assert shape.hole_radius == 4.5 and shape.hole_depth == pytest.approx(75.0)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("17.0 29.44486 0.0  24.25", "17.0 29.4x 0.0  24.25"),
     r"solid\.geo:3: not a number"),
    (lambda t: t.replace("0 0 1  15.0 1.0 0.6 0.4 0.8 1.3\n", ""), r"missing the `0 1"),
    (lambda t: t.replace("-48.5 0.0 90.0", "-48.5 0.0 80.0"), r"solid\.geo:5: corner z"),
    (lambda t: t + "0 0 0  4.5 40.0 90.0 0 0 0\n", r"solid\.geo:10: duplicate record"),
    (lambda t: t.replace("0 6 5", "0 5 5"), r"solid\.geo:7: unknown record type 5"),
    (lambda t: t.replace("0 6 5", "3 6 5"), r"solid\.geo:7: shape index 3"),
    (lambda t: t.replace("0 6 5", "0 6 2"), r"solid\.geo:7: duplicate record"),
    (lambda t: "# nothing\n", r"no crystal shape"),
])
def test_load_asolid_errors_name_file_and_line(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "solid.geo"
    path.write_text(edit(ASOLID_OK))
    with pytest.raises(GeometryError, match=message) as exc:
        load_asolid(path)
    assert "\n" not in str(exc.value)


def test_load_asolid_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.geo: cannot read"):
        load_asolid(tmp_path / "nope.geo")
