"""Geometry settings of the generator (ring depths, sector rule and numbering, bore, contact dead
layers): set from the API, the CLI and a TOML file, recorded in the basis file and read back,
and each one changes the generated basis as the geometry says. Coarse: 12 mm bases on 4 mm
fields, a few seconds each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpsa.basis.fields.settings import GEOMETRY_KEYS, GeneratorSettings
from gpsa.basis.fields.solve import solve_fields
from gpsa.basis.generate import basis_points, generate_basis
from gpsa.basis.io import load_basis, write_basis
from gpsa.basis.model import Basis
from gpsa.basis.provenance import basis_geometry, basis_settings
from gpsa.cli.main import main
from gpsa.detector.contacts import outer_depth
from gpsa.detector.segmentation import GRETA_RING_DEPTHS, CrystalGeometry
from gpsa.errors import ConfigError

S = GeneratorSettings(field_grid_mm=4.0)
GRID = 12.0
FAST = ["--grid", "12", "--field-grid", "4", "--no-cache"]


@pytest.fixture(scope="module")
def geometry() -> CrystalGeometry:
    return CrystalGeometry.default("A")


@pytest.fixture(scope="module")
def plain(geometry: CrystalGeometry) -> Basis:
    return generate_basis(geometry, GRID, S)


def _cli(tmp_path: Path, *extra: str) -> Basis:
    out = tmp_path / "b.h5"
    assert main(["basis", "generate", *FAST, "--out", str(out), "--json", *extra]) == 0
    return load_basis(out)


def test_every_geometry_setting_at_its_default_is_the_plain_basis(
        geometry: CrystalGeometry, plain: Basis) -> None:
    defaults = {"ring_depths": "agata", "sector_boundary": "corners",
                "sector_direction": "increasing", "hole_radius": 5.0, "hole_depth": 77.0,
                "hole_bottom_radius": 0.0, "hole_opening_radius": 0.0,
                "hole_opening_depth": 0.0, "outer_contact_mm": 0.0, "core_contact_mm": 0.0}
    assert sorted(defaults) == sorted(GEOMETRY_KEYS)
    s = S.replace(**defaults)
    assert s.geometry_of(geometry) == geometry
    again = generate_basis(geometry, GRID, s)
    assert np.array_equal(again.signals, plain.signals)
    assert np.array_equal(again.segment, plain.segment)


def test_ring_depths_from_the_cli_move_the_ring_boundaries(
        tmp_path: Path, geometry: CrystalGeometry, plain: Basis) -> None:
    basis = _cli(tmp_path, "--set", "ring_depths=[8,14,16,17,21,14]")
    greta = basis_geometry(basis)
    assert greta.ring_depths == GRETA_RING_DEPTHS
    assert basis_settings(basis).ring_depths == GRETA_RING_DEPTHS
    assert np.array_equal(basis.positions, plain.positions)
    ring_greta = greta.sector_ring(basis.segment)[1]
    ring_agata = geometry.sector_ring(plain.segment)[1]
    z = basis.positions[:, 2]
    # the z = 54 mm layer sits on AGATA's ring 4/5 boundary and 1 mm inside GRETA's ring 4
    # (38–55 mm): its holes split between rings 4 and 5 with AGATA's segments and all reach
    # ring 4 with GRETA's; the layers far from both boundaries do not move
    layer = z == 54.0
    assert np.all(ring_greta[layer] == 3) and np.any(ring_agata[layer] == 4)
    for depth in (6.0, 30.0, 42.0, 66.0, 78.0):
        assert np.array_equal(ring_greta[z == depth], ring_agata[z == depth])
    assert np.mean(basis.segment == greta.segment_of(basis.positions)) > 0.85


def test_reversed_numbering_permutes_the_sectors_and_the_channels(
        geometry: CrystalGeometry, plain: Basis) -> None:
    rev = generate_basis(geometry, GRID, S.replace(sector_direction="decreasing"))
    sector, ring = geometry.sector_ring(np.arange(36))
    perm = geometry.segment_index(5 - sector, ring)  # increasing segment k = decreasing perm[k]
    assert np.array_equal(rev.positions, plain.positions)
    assert np.array_equal(rev.segment, perm[plain.segment])
    np.testing.assert_allclose(rev.signals[:, [*perm, 36]], plain.signals, rtol=0, atol=1e-6)


def test_edge_midpoint_sectors_move_the_electrodes(geometry: CrystalGeometry,
                                                   plain: Basis) -> None:
    edges = generate_basis(geometry, GRID, S.replace(sector_boundary="edges"))
    edge_geom = geometry.replace(sector_boundary="edges")
    assert np.array_equal(edges.positions, plain.positions)
    # the hole reaches the segment the edge rule puts around it, which the corner rule does not
    by_edges = np.mean(edges.segment == edge_geom.segment_of(edges.positions))
    by_corners = np.mean(edges.segment == geometry.segment_of(edges.positions))
    assert by_edges > 0.8 and by_corners < 0.6
    assert json.loads(edges.generator)["geometry"]["sector_boundary"] == "edges"


def test_outer_and_core_dead_layers_remove_points_and_change_the_field(
        geometry: CrystalGeometry, plain: Basis) -> None:
    s = S.replace(outer_contact_mm=3.0, core_contact_mm=2.0)
    dead = generate_basis(geometry, GRID, s)
    r = np.hypot(plain.positions[:, 0], plain.positions[:, 1])
    # distance from the flat 5 mm bore: radial beside it, to its bottom edge or face below it
    to_bore = np.hypot(np.maximum(r - 5.0, 0.0),
                       np.maximum(geometry.shape.bore_start - plain.positions[:, 2], 0.0))
    keep = (outer_depth(geometry.shape, plain.positions) >= 3.0) & (to_bore >= 2.0)
    assert 0 < np.sum(~keep) < len(plain)
    assert np.array_equal(dead.positions, plain.positions[keep])
    # the contacts sit deeper: the potential inside differs, and so do the common signals
    thin, thick = solve_fields(geometry, S), solve_fields(geometry, s)
    assert thin.grid.shape == thick.grid.shape
    node = tuple(np.round((np.array([20.0, 0.0, 45.0]) - thin.grid.origin)
                          / thin.grid.spacing).astype(int))
    assert abs(thick.electric.potential[node] - thin.electric.potential[node]) > 10.0
    assert not np.allclose(dead.signals, plain.signals[keep], atol=1e-3)
    # charge still ends on the hit segment and the core
    assert np.all(np.abs(dead.signals[np.arange(len(dead)), dead.segment, -1] - 1) < 0.05)


def test_rounded_bore_bottom_changes_the_basis_points(geometry: CrystalGeometry) -> None:
    flat, _ = basis_points(geometry, 2.0)
    s = S.replace(hole_bottom_radius=5.0)
    round_, _ = basis_points(s.geometry_of(geometry), 2.0)
    added = {tuple(p) for p in round_.tolist()} - {tuple(p) for p in flat.tolist()}
    assert not {tuple(p) for p in flat.tolist()} - {tuple(p) for p in round_.tolist()}
    zb = geometry.shape.bore_start
    # the points regained lie in the flat bore's bottom edge, outside the hemisphere
    pts = np.array(sorted(added))
    assert len(pts) > 0 and np.all(np.hypot(pts[:, 0], pts[:, 1]) < 5.0)
    assert np.all((pts[:, 2] >= zb) & (pts[:, 2] < zb + 5.0))
    assert np.all(np.hypot(np.hypot(pts[:, 0], pts[:, 1]), pts[:, 2] - (zb + 5.0)) >= 5.0)


def test_toml_settings_are_recorded_and_read_back(tmp_path: Path,
                                                   geometry: CrystalGeometry) -> None:
    toml = tmp_path / "greta.toml"
    toml.write_text('[generator]\nring_depths = { A = "greta" }\nsector_boundary = "edges"\n'
                    'sector_direction = "decreasing"\nhole_bottom_radius = 5.0\n'
                    'hole_opening_radius = 7.0\nhole_opening_depth = 10.0\n'
                    'core_contact_mm = 0.7\nouter_contact_mm = 0.5\nhole_radius = 5.5\n')
    basis = _cli(tmp_path, "--settings", str(toml), "--set", "core_contact_mm=1.0")
    settings = basis_settings(basis)
    expect = GeneratorSettings.from_toml(toml).replace(field_grid_mm=4.0, core_contact_mm=1.0)
    assert settings == expect and settings.ring_depths == {"A": GRETA_RING_DEPTHS}
    back = basis_geometry(basis)
    made = expect.geometry_of(geometry)
    for name in ("ring_depths", "order", "sector_boundary", "sector_direction",
                 "outer_contact_mm", "core_contact_mm"):
        assert getattr(back, name) == getattr(made, name)
    for name in ("hole_radius", "hole_depth", "hole_bottom_radius", "hole_opening_radius",
                 "hole_opening_depth", "length", "radius"):
        assert getattr(back.shape, name) == getattr(made.shape, name)
    np.testing.assert_allclose(back.shape.front, made.shape.front, atol=1e-6)
    assert np.array_equal(basis.positions, basis_points(made, GRID)[0])
    # the file keeps it: a second round trip reads the same
    again = load_basis(write_basis(tmp_path / "c.h5", basis))
    assert basis_settings(again) == settings


@pytest.mark.parametrize(("data", "needle"), [
    ({"sector_boundary": "middle"}, "'sector_boundary' must be one of"),
    ({"sector_direction": 1}, "'sector_direction' must be one of"),
    ({"ring_depths": [8, 14, 16]}, "'ring_depths': ring_depths must be 6 positive"),
    ({"ring_depths": {"A": "nope"}}, "'ring_depths': ring_depths preset 'nope'"),
    ({"hole_radius": -1}, "'hole_radius' must be > 0"),
    ({"hole_depth": 0}, "'hole_depth' must be > 0"),
    ({"outer_contact_mm": -0.5}, "'outer_contact_mm' must be >= 0"),
    ({"core_contact_mm": "thin"}, "'core_contact_mm' must be a number"),
])
def test_bad_geometry_settings_name_the_setting(data: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        GeneratorSettings.from_dict(data)


@pytest.mark.parametrize(("extra", "needle"), [
    (["--set", "ring_depths=[8,14,16,17,21,15]"], "ring_depths sum to 91"),
    (["--set", "hole_bottom_radius=6"], "hole_bottom_radius 6 outside"),
    (["--set", "core_contact_mm=14"], "core_contact_mm 14 does not fit"),
    (["--set", "sector_boundary=centre"], "sector_boundary"),
])
def test_bad_geometry_values_stop_the_cli_with_exit_code_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
        needle: str) -> None:
    out = tmp_path / "x.h5"
    assert main(["basis", "generate", *FAST, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_toml_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[generator]\nring_depth = [8, 14, 16, 17, 21, 14]\n")
    with pytest.raises(ConfigError, match=r"bad.toml: unknown generator setting 'ring_depth'"):
        GeneratorSettings.from_toml(bad)
    with pytest.raises(ConfigError, match="cannot read generator settings"):
        GeneratorSettings.from_toml(tmp_path / "missing.toml")
