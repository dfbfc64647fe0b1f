"""Segmentation: rings, sectors, segment indices in both orders, volumes, centres, neighbours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpsa.detector import (
    N_SEGMENTS,
    CrystalGeometry,
    GeometryError,
    convert_segment_order,
    default_shape,
)
from gpsa.errors import ConfigError


def _geometries(agata: dict[str, Path] | None) -> list[CrystalGeometry]:
    geoms = [CrystalGeometry.default(n) for n in "ABC"]
    if agata is not None:
        geoms += [CrystalGeometry.from_asolid(agata["asolid"], n) for n in "ABC"]
    return geoms


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_segments_non_empty_and_sum_to_the_crystal_volume(name: str) -> None:
    geom = CrystalGeometry.default(name)
    volumes = geom.segment_volumes_cm3()
    assert volumes.shape == (N_SEGMENTS,) and np.all(volumes > 1.0)
    assert volumes.sum() == pytest.approx(geom.shape.volume_cm3(), rel=2e-3)


def test_public_shapes_segments_sum_to_the_crystal_volume(agata: dict[str, Path]) -> None:
    for geom in _geometries(agata)[3:]:
        volumes = geom.segment_volumes_cm3()
        assert np.all(volumes > 1.0)
        assert volumes.sum() == pytest.approx(geom.shape.volume_cm3(), rel=2e-3)


def test_regular_shape_sectors_have_equal_volumes(default_geometry: CrystalGeometry) -> None:
    sector, ring = default_geometry.sector_ring(np.arange(N_SEGMENTS))
    volumes = default_geometry.segment_volumes_cm3()
    by_ring = np.zeros((6, 6))
    by_ring[sector, ring] = volumes
    assert np.allclose(by_ring, by_ring.mean(axis=0), rtol=0.02)
    assert np.all(np.diff(by_ring.mean(axis=0)) > 0)  # thicker and wider rings towards the back


def test_segment_centres_lie_in_their_segments(default_geometry: CrystalGeometry) -> None:
    centres = default_geometry.segment_centres()
    assert centres.shape == (N_SEGMENTS, 3)
    assert default_geometry.segment_of(centres).tolist() == list(range(N_SEGMENTS))
    edges = default_geometry.ring_edges
    _, ring = default_geometry.sector_ring(np.arange(N_SEGMENTS))
    assert np.all((centres[:, 2] > edges[ring]) & (centres[:, 2] < edges[ring + 1]))


def test_ring_boundaries(default_geometry: CrystalGeometry) -> None:
    z = np.array([-5, 0, 7.99, 8.0, 20.99, 21.0, 35.9, 36.0, 53.9, 54.0, 71.9, 72.0, 90, 95])
    pts = np.stack([np.full_like(z, 20.0), np.zeros_like(z), z], axis=1)
    assert default_geometry.ring_of(pts).tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5]
    assert default_geometry.ring_edges.tolist() == [0, 8, 21, 36, 54, 72, 90]


@pytest.mark.parametrize("z", [0.0, 30.0, 90.0])
def test_sector_boundaries_follow_the_interpolated_corners(z: float) -> None:
    geom = CrystalGeometry.default("B")
    corners = geom.shape.hexagon_at(z)
    phi = np.arctan2(corners[:, 1], corners[:, 0])
    for k in range(6):
        for d, expected in ((-1e-4, (k - 1) % 6), (1e-4, k)):
            for r in (10.0, 30.0, 70.0):  # inside, and outside the crystal
                p = [r * np.cos(phi[k] + d), r * np.sin(phi[k] + d), z]
                assert geom.sector_of(np.array(p)) == expected, (k, d, r)


def test_sector_labels_follow_increasing_azimuth(default_geometry: CrystalGeometry) -> None:
    phi = np.radians(np.arange(6) * 60 + 30)  # middle of each sector of the regular shape
    pts = np.stack([25 * np.cos(phi), 25 * np.sin(phi), np.full(6, 40.0)], axis=1)
    assert default_geometry.sector_of(pts).tolist() == [0, 1, 2, 3, 4, 5]
    assert default_geometry.segment_name(0) == "A1"
    assert default_geometry.segment_name(35) == "F6"


def test_public_shape_sectors_start_at_corner_0(agata: dict[str, Path]) -> None:
    geom = CrystalGeometry.from_asolid(agata["asolid"], "B")
    p = np.array([[30.0, 0.5, 0.0], [30.0, -0.5, 0.0], [-1.0, -30.0, 45.0]])
    assert geom.sector_of(p).tolist() == [0, 5, 4]


def test_segment_of_outside_and_shapes(default_geometry: CrystalGeometry) -> None:
    pts = np.array([[20.0, 10.0, 4.0], [0, 0, 50], [60.0, 0, 40], [0, 0, -3]])
    seg = default_geometry.segment_of(pts)
    assert seg.dtype == np.int16
    assert seg.tolist() == [0, -1, -1, -1]
    assert default_geometry.segment_of(pts, inside_only=False).tolist() == [0, 3, 3, 0]
    assert default_geometry.segment_of([20.0, 10.0, 4.0]) == 0  # one point: a 0-d result
    assert default_geometry.contains([0.0, 0.0, 5.0]) and not default_geometry.contains([0, 0, 50])
    assert default_geometry.in_bore([0.0, 0.0, 50.0])
    grid = np.random.default_rng(3).uniform(-40, 40, (4, 5, 3)) + [0, 0, 45]
    assert default_geometry.segment_of(grid).shape == (4, 5)


@pytest.mark.parametrize("order", ["sector-major", "ring-major"])
def test_index_round_trip(order: str) -> None:
    geom = CrystalGeometry.default(order=order)
    seg = np.arange(N_SEGMENTS)
    sector, ring = geom.sector_ring(seg)
    assert np.array_equal(geom.segment_index(sector, ring), seg)
    assert geom.segment_index(1, 2) == (8 if order == "sector-major" else 13)
    with pytest.raises(GeometryError):
        geom.segment_index(6, 0)
    with pytest.raises(GeometryError):
        geom.sector_ring(36)


def test_order_conversion_round_trip_and_consistency() -> None:
    seg = np.array([-1, 0, 1, 5, 6, 7, 35])
    ring_major = convert_segment_order(seg, "sector-major", "ring-major")
    assert ring_major.tolist() == [-1, 0, 6, 30, 1, 7, 35]
    assert np.array_equal(convert_segment_order(ring_major, "ring-major", "sector-major"), seg)
    everything = np.arange(N_SEGMENTS)
    for a, b in (("sector-major", "ring-major"), ("ring-major", "sector-major")):
        back = convert_segment_order(convert_segment_order(everything, a, b), b, a)
        assert np.array_equal(back, everything)
        assert np.array_equal(convert_segment_order(everything, a, a), everything)
    pts = np.random.default_rng(5).uniform([-40, -40, 0], [40, 40, 90], (2000, 3))
    sm = CrystalGeometry.default("C").segment_of(pts)
    rm = CrystalGeometry.default("C", order="ring-major").segment_of(pts)
    assert np.array_equal(convert_segment_order(sm, "sector-major", "ring-major"), rm)
    with pytest.raises(ConfigError, match="from_order"):
        convert_segment_order(seg, "sector", "ring-major")
    with pytest.raises(GeometryError):
        convert_segment_order([36], "sector-major", "ring-major")


def test_agata_neighbours(default_geometry: CrystalGeometry) -> None:
    sizes = [len(default_geometry.neighbours(s)) for s in range(N_SEGMENTS)]
    _, ring = default_geometry.sector_ring(np.arange(N_SEGMENTS))
    assert all(n == (6 if r in (0, 5) else 9) for n, r in zip(sizes, ring, strict=True))
    # sector A ring 3 (seg 2) wraps to sector F (30..35)
    assert default_geometry.neighbours(2).tolist() == [1, 2, 3, 7, 8, 9, 31, 32, 33]
    assert default_geometry.neighbours(30).tolist() == [0, 1, 24, 25, 30, 31]
    mask = default_geometry.neighbour_mask()
    assert np.array_equal(mask, mask.T) and np.all(np.diag(mask))


def test_ring_major_neighbours_are_the_same_segments() -> None:
    sm, rm = CrystalGeometry.default(), CrystalGeometry.default(order="ring-major")
    for seg in range(N_SEGMENTS):
        seg_rm = int(convert_segment_order(seg, "sector-major", "ring-major"))
        expected = np.sort(convert_segment_order(sm.neighbours(seg), "sector-major",
                                                 "ring-major"))
        assert np.array_equal(rm.neighbours(seg_rm), expected)


def test_gretina_neighbours_widen_the_front_rings(default_geometry: CrystalGeometry) -> None:
    sizes = [len(default_geometry.neighbours(r, "gretina")) for r in range(6)]  # sector A
    assert sizes == [9, 12, 9, 9, 9, 6]
    assert default_geometry.neighbours(0, "gretina").tolist() == [0, 1, 2, 6, 7, 8, 30, 31, 32]
    with pytest.raises(ConfigError, match="neighbour kind"):
        default_geometry.neighbours(0, "euroball")


def test_configuration_is_validated() -> None:
    with pytest.raises(ConfigError, match="sum to 91"):
        CrystalGeometry(default_shape("A"), ring_depths=(9, 13, 15, 18, 18, 18))
    with pytest.raises(ConfigError, match="6 positive"):
        CrystalGeometry(default_shape("A"), ring_depths=(45, 45))
    with pytest.raises(ConfigError, match="order"):
        CrystalGeometry.default(order="sector")
    greta = CrystalGeometry.default(ring_depths=(8, 14, 16, 17, 21, 14))
    assert greta.ring_edges[-1] == 90 and hash(greta) != hash(CrystalGeometry.default())


def test_from_asolid_unknown_shape(agata: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="no crystal shape 'D'"):
        CrystalGeometry.from_asolid(agata["asolid"], "D")
