"""Anisotropic drift in a generated basis: the settings travel into the basis file, charge is
conserved, and the hit segment's T90 shows the lattice's 90° pattern in azimuth, locked to
``lattice_angle_deg``, with the holes slower along <110> than along <100>."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpsa.basis.fields.settings import GeneratorSettings
from gpsa.basis.fields.solve import CrystalFields, solve_fields
from gpsa.basis.generate import basis_points, compute_signals, generate_basis_with_report
from gpsa.basis.io import load_basis, write_basis
from gpsa.basis.timing import azimuthal_harmonic, correlation_cos, hit_segment_timing
from gpsa.cli.main import main
from gpsa.detector.segmentation import CrystalGeometry

ISO = GeneratorSettings(field_grid_mm=3.0, anisotropic=False)
GRID = 6.0


@pytest.fixture(scope="module")
def geometry() -> CrystalGeometry:
    return CrystalGeometry.default("A")


@pytest.fixture(scope="module")
def fields(geometry: CrystalGeometry) -> CrystalFields:
    return solve_fields(geometry, ISO)


@pytest.fixture(scope="module")
def iso_run(fields: CrystalFields, geometry: CrystalGeometry):
    pos, _ = basis_points(geometry, GRID)
    sig, report = compute_signals(fields, pos, ISO, geometry.order)
    return pos, sig, report


def test_settings_are_recorded_in_the_basis_file(tmp_path: Path,
                                                 geometry: CrystalGeometry) -> None:
    s = ISO.replace(anisotropic=True, lattice_angle_deg=30.0, temperature_k=80.0)
    basis, report = generate_basis_with_report(geometry, 12.0, s)
    assert report.n_not_collected == 0
    again = load_basis(write_basis(tmp_path / "b.h5", basis))
    settings = json.loads(again.generator)["settings"]
    assert settings["anisotropic"] is True and settings["lattice_angle_deg"] == 30.0
    assert settings["temperature_k"] == 80.0 and settings["hole_111"] == list(s.hole_111)
    assert GeneratorSettings.from_dict(settings) == s


def test_cli_sets_lattice_angle_and_temperature(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.h5"
    argv = ["basis", "generate", "--grid", "12", "--field-grid", "4", "--out", str(out),
            "--no-cache", "--set", "lattice_angle_deg=30", "--set", "temperature_k=80",
            "--set", "anisotropic=true", "--json"]
    assert main(argv) == 0
    settings = json.loads(load_basis(out).generator)["settings"]
    assert (settings["lattice_angle_deg"], settings["temperature_k"]) == (30.0, 80.0)
    capsys.readouterr()
    assert main(argv[:-1] + ["--set", "lattice_angel_deg=30"]) == 2
    assert "'lattice_angel_deg'" in capsys.readouterr().err


@pytest.mark.parametrize("data, key", [({"anisotropic": "yes"}, "anisotropic"),
                                       ({"lattice_angle_deg": "x"}, "lattice_angle_deg"),
                                       ({"hole_111": [1, 2, 3]}, "hole_111")])
def test_bad_anisotropy_settings_name_the_key(data: dict, key: str) -> None:
    from gpsa.errors import ConfigError

    with pytest.raises(ConfigError, match=key):
        GeneratorSettings.from_dict(data)


@pytest.mark.parametrize("lattice_deg", [45.0, 30.0])
def test_t90_difference_has_the_lattice_90_degree_pattern(
        fields: CrystalFields, geometry: CrystalGeometry, iso_run, lattice_deg: float) -> None:
    pos, iso_sig, iso_rep = iso_run
    s = ISO.replace(anisotropic=True, lattice_angle_deg=lattice_deg)
    sig, rep = compute_signals(fields, pos, s, geometry.order)
    # charge conservation and collection are untouched by the anisotropy
    assert rep.n_not_collected == 0 and np.all(rep.electron_electrode == 36)
    assert np.abs(sig[:, :36].sum(axis=1) - sig[:, 36]).max() < 0.01
    same = rep.hole_electrode == iso_rep.hole_electrode
    assert same.mean() > 0.9
    seg = iso_rep.hole_electrode[same]
    t_iso = hit_segment_timing(iso_sig[same], seg, ISO.t0_sample, ISO.sampling_ns)
    t_ani = hit_segment_timing(sig[same], seg, ISO.t0_sample, ISO.sampling_ns)
    # the hit segment ends at 1 but for the preamp's lag behind the last collection
    t_last = (ISO.n_samples - 1 - ISO.t0_sample) * ISO.sampling_ns
    lag = np.exp(-(t_last - rep.drift_time_ns[same]) / ISO.preamp_tau_ns) + 0.005
    assert np.all(np.abs(sig[same][np.arange(len(seg)), seg, -1] - 1.0) < lag)
    d = t_ani["t90_ns"] - t_iso["t90_ns"]
    phi = np.arctan2(pos[same, 1], pos[same, 0])
    h4 = azimuthal_harmonic(d, phi, 4)
    # slowest where the (mostly radial) field runs along <110>: 45° from <100>
    expected = (lattice_deg + 45.0) % 90.0
    off = (h4["phase_deg"] - expected + 45.0) % 90.0 - 45.0
    assert abs(off) < 5.0
    assert h4["amplitude"] > 4.0  # ns; a 10 ns sample
    assert correlation_cos(d, phi, 4, expected) > 0.4
    assert azimuthal_harmonic(d, phi, 6)["amplitude"] < 0.3 * h4["amplitude"]  # no 60° pattern
