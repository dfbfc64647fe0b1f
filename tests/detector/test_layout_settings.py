"""Segmentation and bore settings of :class:`CrystalGeometry` / :class:`CrystalShape`: ring depths
(numbers, presets, per crystal type), the sector boundary rule and numbering direction, a rounded
bore bottom, a wider back opening and the contacts' dead layers. Every check compares with a
value computed here from the definition, not with the code's own output."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpsa.detector import CrystalGeometry
from gpsa.detector.contacts import outer_depth
from gpsa.detector.segmentation import GRETA_RING_DEPTHS, resolve_ring_depths
from gpsa.errors import ConfigError


def _at(r: float, phi_deg: float, z: float) -> np.ndarray:
    a = math.radians(phi_deg)
    return np.array([r * math.cos(a), r * math.sin(a), z])


def test_greta_ring_depths_move_the_ring_boundaries() -> None:
    geom = CrystalGeometry.default("A", ring_depths="greta")
    assert geom.ring_depths == GRETA_RING_DEPTHS == (8.0, 14.0, 16.0, 17.0, 21.0, 14.0)
    edges = [8.0, 22.0, 38.0, 55.0, 76.0]
    below = np.array([[20.0, 0.0, e - 0.01] for e in edges])
    above = np.array([[20.0, 0.0, e + 0.01] for e in edges])
    assert geom.ring_of(below).tolist() == [0, 1, 2, 3, 4]
    assert geom.ring_of(above).tolist() == [1, 2, 3, 4, 5]
    agata = CrystalGeometry.default("A")
    assert agata.ring_of(np.array([[20.0, 0.0, 21.5]]))[0] == 2  # AGATA ring 3 starts at 21
    assert geom.ring_of(np.array([[20.0, 0.0, 21.5]]))[0] == 1


def test_ring_depths_by_crystal_type() -> None:
    table = {"A": "greta", "B": [10, 12, 15, 18, 18, 17]}
    assert CrystalGeometry.default("A", ring_depths=table).ring_depths == GRETA_RING_DEPTHS
    assert CrystalGeometry.default("B", ring_depths=table).ring_depths[0] == 10.0
    with pytest.raises(ConfigError, match="ring_depths has no entry for crystal type 'C'"):
        CrystalGeometry.default("C", ring_depths=table)
    with pytest.raises(ConfigError, match="ring_depths preset 'gretina' unknown"):
        resolve_ring_depths("gretina")


def test_edge_midpoint_boundary_sits_at_the_edge_midpoint_azimuth() -> None:
    corners = CrystalGeometry.default("B")
    edges = corners.replace(sector_boundary="edges")
    for z in (5.0, 45.0, 85.0):
        hexagon = corners.shape.hexagon_at(z)
        for k in range(6):
            mid = 0.5 * (hexagon[k] + hexagon[(k + 1) % 6])
            phi = math.degrees(math.atan2(mid[1], mid[0]))
            just = np.stack([_at(20.0, phi - 0.05, z), _at(20.0, phi + 0.05, z)])
            assert edges.sector_of(just).tolist() == [(k - 1) % 6, k]
            # the corner rule has no boundary there: both sides in corner k's sector
            assert corners.sector_of(just).tolist() == [k, k]
    # a corner is now inside a sector: corner 1 of shape A (60°) is the middle of sector 0
    a = CrystalGeometry.default("A", sector_boundary="edges")
    assert a.sector_of(np.stack([_at(25, 59.0, 40), _at(25, 61.0, 40)])).tolist() == [0, 0]


def test_decreasing_numbering_mirrors_the_sectors() -> None:
    rng = np.random.default_rng(2)
    pts = rng.uniform([-40, -40, 0], [40, 40, 90], (5000, 3))
    for rule in ("corners", "edges"):
        inc = CrystalGeometry.default("C", sector_boundary=rule)
        dec = inc.replace(sector_direction="decreasing")
        assert np.array_equal(dec.sector_of(pts), 5 - inc.sector_of(pts))
    inc, dec = CrystalGeometry.default("A"), CrystalGeometry.default("A",
                                                                     sector_direction="decreasing")
    # sector 0 starts at corner 0 (azimuth 0°) and runs towards negative azimuth
    assert dec.sector_of(np.stack([_at(20, -10.0, 40), _at(20, 10.0, 40)])).tolist() == [0, 5]
    seg_inc, seg_dec = inc.segment_of(pts), dec.segment_of(pts)
    sec, ring = inc.sector_ring(seg_inc[seg_inc >= 0])
    assert np.array_equal(seg_dec[seg_dec >= 0], inc.segment_index(5 - sec, ring))


def test_rounded_bore_bottom_returns_the_corner_to_the_germanium() -> None:
    flat = CrystalGeometry.default("A")
    rb = 3.0
    rounded = flat.replace(hole_bottom_radius=rb)
    zb = flat.shape.bore_start
    corner = np.array([[4.6, 0.0, zb + 0.2], [0.0, 4.6, zb + 0.2]])  # in the flat bore's edge
    axis = np.array([[0.0, 0.0, zb + 0.2], [4.6, 0.0, zb + rb + 0.1]])  # in both bores
    assert not flat.contains(corner).any() and rounded.contains(corner).all()
    assert not flat.contains(axis).any() and not rounded.contains(axis).any()
    # volume gained: the ring of the square rb × rb less the quarter disc, revolved at its centroid
    # (Pappus; the centroid of that spandrel is rb·(10 − 3π)/(3(4 − π)) in from the wall)
    gained = (rb * rb - math.pi * rb * rb / 4) * 2 * math.pi * (
        5.0 - rb * (10 - 3 * math.pi) / (3 * (4 - math.pi)))
    measured = (rounded.shape.volume_cm3() - flat.shape.volume_cm3()) * 1000.0
    assert measured == pytest.approx(gained, rel=2e-3)
    hemi = flat.replace(hole_bottom_radius=5.0)
    assert (hemi.shape.volume_cm3() - flat.shape.volume_cm3()) * 1000.0 == pytest.approx(
        math.pi * 25 * 5 - 2 / 3 * math.pi * 125, rel=1e-3)


def test_back_opening_widens_the_bore_as_a_cone() -> None:
    geom = CrystalGeometry.default("A", hole_opening_radius=8.0, hole_opening_depth=12.0)
    length = geom.shape.length
    # radius 5 + 3·(12 − 4)/12 = 7 mm at 4 mm from the back face
    assert geom.in_bore(np.array([[7.9, 0, length - 0.01], [0, 6.9, length - 4.0]])).all()
    assert not geom.in_bore(np.array([[0, 7.1, length - 4.0], [5.1, 0, length - 12.5]])).any()
    # volume lost: the frustum (radii 5 → 8 over 12 mm) less the cylinder it replaces
    frustum = math.pi * 12.0 / 3 * (25 + 40 + 64) - math.pi * 25 * 12.0
    lost = (CrystalGeometry.default("A").shape.volume_cm3() - geom.shape.volume_cm3()) * 1000
    assert lost == pytest.approx(frustum, rel=1e-3)


def test_outer_contact_removes_a_layer_of_its_thickness() -> None:
    base = CrystalGeometry.default("A")
    dead = base.replace(outer_contact_mm=2.0)
    rng = np.random.default_rng(5)
    pts = rng.uniform([-40, -40, 0], [40, 40, 90], (100000, 3))
    inside = base.contains(pts)
    depth = outer_depth(base.shape, pts[inside])
    assert np.array_equal(dead.contains(pts[inside]), depth >= 2.0)
    assert not dead.contains(pts[~inside]).any()
    # depth on the hexagon side at mid-length: distance to the tilted plane, by hand
    h0, h1 = 34 * math.cos(math.pi / 6), 48.5 * math.cos(math.pi / 6)
    z, r = 30.0, 25.0  # at azimuth 30°, the side's normal direction
    plane = (h0 + (h1 - h0) * z / 90 - r) * 90 / math.hypot(90, h1 - h0)
    assert outer_depth(base.shape, _at(r, 30.0, z)[None])[0] == pytest.approx(plane)
    assert outer_depth(base.shape, np.array([[0.0, 10.0, 1.5]]))[0] == pytest.approx(1.5)
    # the front face and the cylinder are contacts, the passivated back face is not
    assert not dead.contains(np.array([[20.0, 0, 1.9], [38.5, 0, 80]])).any()
    assert dead.contains(np.array([[20.0, 0, 2.1], [37.5, 0, 89.9]])).all()


def test_core_contact_is_part_of_the_core_electrode() -> None:
    geom = CrystalGeometry.default("A", core_contact_mm=1.0, hole_bottom_radius=2.0)
    zb = geom.shape.bore_start
    shell = np.array([[5.5, 0, 50.0], [0, 0, zb - 0.5], [0, 5.9, 60.0]])
    assert geom.in_bore(shell).all() and not geom.contains(shell).any()
    assert geom.shape.in_bore(shell).sum() == 0  # the bore itself is unchanged
    assert geom.contains(np.array([[6.1, 0, 50.0], [0, 0, zb - 1.1]])).all()
    # the rounded bottom's offset is rounded with radius rb + t around the same centre
    centre_r, centre_z = 5.0 - 2.0, zb + 2.0
    probe = np.array([[centre_r + 2.95 * math.sin(0.7), 0, centre_z - 2.95 * math.cos(0.7)],
                      [centre_r + 3.05 * math.sin(0.7), 0, centre_z - 3.05 * math.cos(0.7)]])
    assert geom.in_bore(probe).tolist() == [True, False]


@pytest.mark.parametrize(("changes", "message"), [
    ({"ring_depths": [8, 14, 16, 17, 21, 15]}, "ring_depths sum to 91"),
    ({"ring_depths": [8, 14, 16, 17, 35]}, "ring_depths must be 6 positive"),
    ({"ring_depths": "nine"}, "ring_depths preset 'nine'"),
    ({"sector_boundary": "middle"}, "sector_boundary must be one of corners, edges"),
    ({"sector_direction": "cw"}, "sector_direction must be one of"),
    ({"hole_bottom_radius": 6.0}, "hole_bottom_radius 6 outside"),
    ({"hole_opening_radius": 4.0, "hole_opening_depth": 5.0}, "hole_opening_radius 4 must be"),
    ({"hole_opening_radius": 7.0}, "hole_opening_depth 0 must be in"),
    ({"hole_radius": 45.0}, r"hole_radius 45.0 outside \[0, radius\)"),
    ({"outer_contact_mm": -0.1}, "outer_contact_mm must be a finite thickness"),
    ({"core_contact_mm": 14.0}, "core_contact_mm 14 does not fit around the bore"),
    ({"outer_contact_mm": 25.0}, "outer_contact_mm 25 leaves no active germanium"),
    ({"rings": 6}, "unknown geometry setting 'rings'"),
])
def test_bad_values_are_one_line_config_errors(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        CrystalGeometry.default("A").replace(**changes)
    assert "\n" not in str(info.value)
