"""The sampling convention of generated bases (``GeneratorSettings.sampling``).

``"point"``: sample ``s`` is the signal at ``t_s = (s − t0_sample)·T``; ``"integrated"``: the
mean of the signal over ``[t_s − T, t_s)``, with the signal linear between the 1 ns fine points.
Checked on analytic signals (a ramp, a step at a known time), for the integral, for
byte-identity of ``"point"`` with gpsa's bases before the setting, through the basis file and
the CLI.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from gpsa.basis.fields.response import apply_response, preamp, sample
from gpsa.basis.fields.settings import GeneratorSettings
from gpsa.basis.generate import generate_basis
from gpsa.basis.io import load_basis, write_basis
from gpsa.cli.main import main
from gpsa.detector.segmentation import CrystalGeometry
from gpsa.errors import ConfigError

DT, T, N = 1.0, 10.0, 12
STEP = int(T / DT)
#: sha256 of the signals of ``generate_basis(shape A, 12 mm, field_grid_mm=4)`` computed with
#: the code before the ``sampling`` setting (commit 529f06c, point samples).
HEAD_POINT_SHA256 = "ee4cbd2832a14df54e062dc073f34cbfffbc3fa3c5db9d010b2326e6b153add0"


def _respond(raw: np.ndarray, sampling: str, tau: float = 0.0) -> np.ndarray:
    return apply_response(raw, dt_ns=DT, sampling_ns=T, n_samples=N, tau_ns=tau,
                          sampling=sampling)


def test_linear_ramp_is_sampled_at_the_period_end_or_its_middle() -> None:
    t = np.arange((N - 1) * STEP + 1) * DT
    raw = np.broadcast_to(0.01 * t, (1, 37, t.size)).astype(np.float32)
    k = np.arange(N)
    np.testing.assert_allclose(_respond(raw, "point")[0, 0], 0.01 * k * T, rtol=0, atol=1e-6)
    # the mean of a ramp over [(k−1)T, kT) is its value at (k − ½)T; sample 0 is the baseline
    expect = np.where(k > 0, 0.01 * (k - 0.5) * T, 0.0)
    np.testing.assert_allclose(_respond(raw, "integrated")[0, 0], expect, rtol=0, atol=1e-6)


def test_step_at_a_known_time_gives_the_exact_fractions() -> None:
    m = 3 * STEP + 4  # fine point where the step reaches 1 (linear from m − 1)
    raw = np.zeros((1, 37, (N - 1) * STEP + 1), np.float32)
    raw[..., m:] = 1.0
    point = _respond(raw, "point")[0, 0]
    integ = _respond(raw, "integrated")[0, 0]
    assert point.tolist() == [0.0] * 4 + [1.0] * (N - 4)
    # sample 4 covers fine intervals 30..39: 0 for 30–32, ½ for [33, 34), 1 for 34–39
    assert integ[:4].tolist() == [0.0] * 4 and integ[5:].tolist() == [1.0] * (N - 5)
    assert integ[4] == pytest.approx((0.5 + 6) / STEP, abs=1e-7)


def test_integrated_samples_conserve_the_integral() -> None:
    rng = np.random.default_rng(15)
    raw = np.cumsum(rng.normal(size=(3, 37, (N - 1) * STEP + 1)), axis=-1).astype(np.float32)
    y = preamp(raw, 35.0, DT).astype(np.float64)
    integ = _respond(raw, "integrated", tau=35.0).astype(np.float64)
    area = np.trapezoid(y, dx=DT, axis=-1)
    np.testing.assert_allclose(integ[..., 1:].sum(axis=-1) * T, area, rtol=1e-5, atol=1e-3)
    with pytest.raises(ValueError, match="unknown sampling"):
        sample(y, STEP, N, "centred")


def test_point_sampling_is_the_old_decimation() -> None:
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(2, 37, N * STEP)).astype(np.float32)
    old = preamp(raw[..., :(N - 1) * STEP + 1], 20.0, DT)[..., ::STEP]
    assert np.array_equal(_respond(raw, "point", tau=20.0), old)


@pytest.fixture(scope="module")
def geometry() -> CrystalGeometry:
    return CrystalGeometry.default("A")


def test_point_basis_is_byte_identical_to_head_and_integrated_lags(
        geometry: CrystalGeometry) -> None:
    s = GeneratorSettings(field_grid_mm=4.0)
    assert s.sampling == "integrated"  # the default
    point = generate_basis(geometry, 12.0, s.replace(sampling="point"))
    digest = hashlib.sha256(np.ascontiguousarray(point.signals).tobytes()).hexdigest()
    assert digest == HEAD_POINT_SHA256
    integ = generate_basis(geometry, 12.0, s)
    assert np.array_equal(point.segment, integ.segment)
    # nothing before the interaction; the core charge only grows, so its period mean trails it
    assert np.all(integ.signals[:, :, : s.t0_sample + 1] == 0.0)
    core_p, core_i = point.signals[:, 36], integ.signals[:, 36]
    assert np.all(core_i[:, s.t0_sample + 1:] <= core_p[:, s.t0_sample + 1:] + 1e-6)


def test_sampling_survives_the_file_and_the_cli(tmp_path: Path, geometry: CrystalGeometry,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    s = GeneratorSettings(field_grid_mm=4.0, sampling="point")
    basis = load_basis(write_basis(tmp_path / "p.h5", generate_basis(geometry, 16.0, s)))
    meta = json.loads(basis.generator)
    assert meta["settings"]["sampling"] == "point"
    assert meta["sampling_convention"].startswith("sample s = signal at t_s")
    assert GeneratorSettings.from_dict(meta["settings"]) == s

    out = tmp_path / "i.h5"
    argv = ["basis", "generate", "--grid", "16", "--field-grid", "4", "--out", str(out),
            "--no-cache", "--set", "sampling=integrated"]
    assert main(argv) == 0
    meta = json.loads(load_basis(out).generator)
    assert meta["settings"]["sampling"] == "integrated"
    assert "[t_s - sampling_ns, t_s)" in meta["sampling_convention"]
    capsys.readouterr()
    assert main(argv[:-1] + ["sampling=centred"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'sampling'" in err and "centred" in err and "\n" not in err


def test_bad_sampling_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'sampling' must be one of"):
        GeneratorSettings.from_dict({"sampling": "Point"})
