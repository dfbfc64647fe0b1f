"""Impulse-response files in the basis generator: the formats are read, bad files stop with one
line naming the file (before any field is solved), the basis records the file's hash, two
files give two different bases, and a generated basis keeps its settled net charges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpsa.basis.fields.impulse import load_impulse_response
from gpsa.basis.fields.settings import GeneratorSettings
from gpsa.basis.fields.solve import CrystalFields, solve_fields
from gpsa.basis.generate import basis_points, compute_signals, generate_basis
from gpsa.basis.io import load_basis, write_basis
from gpsa.basis.provenance import basis_settings
from gpsa.cli.main import main
from gpsa.detector.segmentation import CrystalGeometry
from gpsa.errors import ConfigError

S = GeneratorSettings(field_grid_mm=4.0)


@pytest.fixture(scope="module")
def geometry() -> CrystalGeometry:
    return CrystalGeometry.default("A")


@pytest.fixture(scope="module")
def fields(geometry: CrystalGeometry) -> CrystalFields:
    return solve_fields(geometry, S)


def _response(tmp_path: Path, name: str, decay_ns: float) -> Path:
    """A two-column ``t_ns,h`` file: a 4 ns rise and an exponential decay, sampled at 0.5 ns."""
    t = np.arange(0, 12 * decay_ns, 0.5)
    h = (1 - np.exp(-t / 4.0)) * np.exp(-t / decay_ns)
    path = tmp_path / name
    rows = "".join(f"{a:g},{b:.9g}\n" for a, b in zip(t, h, strict=True))
    path.write_text("time_ns,amplitude\n" + rows)
    return path


def test_the_formats_agree(tmp_path: Path) -> None:
    h = np.array([0.0, 0.4, 1.0, 0.7, 0.2])
    np.save(tmp_path / "one.npy", h)
    np.save(tmp_path / "two.npy", np.c_[np.arange(5) * 2.0, h])
    (tmp_path / "one.txt").write_text("# oscilloscope, 2 ns\n" + "\n".join(map(str, h)))
    (tmp_path / "two.dat").write_text("t h\n" + "".join(f"{2 * k}; {v}\n" for k, v in
                                                        enumerate(h)))
    read = [load_impulse_response(tmp_path / "one.npy", 2.0),
            load_impulse_response(tmp_path / "two.npy"),
            load_impulse_response(tmp_path / "one.txt", 2.0),
            load_impulse_response(tmp_path / "two.dat", 2.0)]
    for r in read:
        assert r.period_ns == 2.0
        np.testing.assert_array_equal(r.samples, h)
        np.testing.assert_allclose(r.kernel(1.0), read[0].kernel(1.0))
    assert read[0].kernel(1.0).size == 9


@pytest.mark.parametrize(("name", "content", "period", "needle"), [
    ("missing.csv", None, 1.0, "cannot read"),
    ("empty.txt", "# nothing\n", 1.0, "no samples"),
    ("words.csv", "t,h\n0,1\n1,x\n", None, "line 3: not a number"),
    ("three.csv", "0,1,2\n1,1,2\n", None, "expected 1 column (h) or 2 columns"),
    ("ragged.csv", "0,1\n1\n", None, "line 2: 1 columns, expected 2"),
    ("noperiod.txt", "1\n0.5\n", None, "needs the setting 'impulse_response_period_ns'"),
    ("late.csv", "5,1\n6,0.5\n", None, "must start at 0 ns"),
    ("uneven.csv", "0,1\n1,0.5\n3,0.2\n", None, "evenly spaced"),
    ("disagree.csv", "0,1\n2,0.5\n", 1.0, "disagrees with 'impulse_response_period_ns'"),
    ("nan.txt", "1\nnan\n", 1.0, "finite"),
    ("inverted.txt", "-1\n-0.5\n", 1.0, "area must be > 0"),
    ("binary.csv", b"\xff\xfe\x00\x01", 1.0, "not a text file"),
    ("broken.npy", b"\x93NUMPY garbage", 1.0, "not a readable .npy"),
])
def test_bad_files_stop_with_one_line_naming_the_file(
        tmp_path: Path, name: str, content: str | bytes | None, period: float | None,
        needle: str) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_impulse_response(path, period)
    message = str(err.value)
    assert message.startswith(f"impulse response {path}:") and needle in message
    assert "\n" not in message


def test_a_bad_file_stops_the_generator_before_the_fields(
        tmp_path: Path, geometry: CrystalGeometry, capsys: pytest.CaptureFixture[str]) -> None:
    s = S.replace(impulse_response=str(tmp_path / "nope.csv"), field_grid_mm=0.25)
    with pytest.raises(ConfigError, match="nope.csv: cannot read"):
        generate_basis(geometry, 16.0, s)  # a 0.25 mm field solve would take minutes
    argv = ["basis", "generate", "--grid", "16", "--field-grid", "4", "--no-cache",
            "--out", str(tmp_path / "b.h5"), "--set", f"impulse_response={tmp_path}/nope.csv"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "nope.csv" in err and "\n" not in err
    assert not (tmp_path / "b.h5").exists()


def test_the_basis_records_the_file_and_two_files_differ(
        tmp_path: Path, geometry: CrystalGeometry) -> None:
    fast, slow = _response(tmp_path, "fast.csv", 10.0), _response(tmp_path, "slow.csv", 40.0)
    bases = {}
    for path in (fast, slow):
        s = S.replace(impulse_response=str(path))
        bases[path] = load_basis(write_basis(tmp_path / f"{path.stem}.h5",
                                             generate_basis(geometry, 16.0, s)))
    metas = {p: json.loads(b.generator) for p, b in bases.items()}
    for path, meta in metas.items():
        rec = meta["impulse_response"]
        assert rec["file"] == str(path) and rec["period_ns"] == 0.5
        assert len(rec["sha256"]) == 64 and meta["settings"]["impulse_response"] == str(path)
        assert basis_settings(bases[path]).impulse_response == str(path)
    assert metas[fast]["impulse_response"]["sha256"] != metas[slow]["impulse_response"]["sha256"]
    assert not np.allclose(bases[fast].signals, bases[slow].signals, atol=1e-3)
    plain = generate_basis(geometry, 16.0, S)
    assert "impulse_response" not in json.loads(plain.generator)
    # the slower response delays the core's 50 % crossing
    def t50(b: np.ndarray) -> np.ndarray:
        return np.argmax(b[:, 36] >= 0.5 * b[:, 36, -1:], axis=-1)
    assert np.all(t50(bases[slow].signals) >= t50(plain.signals))
    assert np.mean(t50(bases[slow].signals) - t50(plain.signals)) > 1.0


def test_a_generated_basis_keeps_its_settled_net_charges(
        tmp_path: Path, geometry: CrystalGeometry, fields: CrystalFields) -> None:
    pos, _ = basis_points(geometry, 14.0)
    s = S.replace(sampling="point", n_samples=110)  # 1 µs: most signals settle
    plain, report = compute_signals(fields, pos, s, geometry.order)
    shaped_s = s.replace(impulse_response=str(_response(tmp_path, "r.csv", 15.0)),
                         shaping_ns=8.0, shaping_stages=2)
    shaped, _ = compute_signals(fields, pos, shaped_s, geometry.order)
    assert report.n_not_collected == 0
    # settled: the plain signal flat over its last 20 samples (200 ns, ≫ the response's
    # ~180 ns length and the shaper's ~8·8 ns)
    settled = np.all(np.abs(plain[..., -20:] - plain[..., -1:]) < 1e-5, axis=-1)
    assert settled.mean() > 0.9
    np.testing.assert_allclose(shaped[..., -1][settled], plain[..., -1][settled], atol=2e-5)
    # nothing before the interaction, and the response slows the rise
    assert np.all(shaped[..., : s.t0_sample + 1] == 0.0)
    hit = np.abs(plain[:, :36, -1]).argmax(axis=1)
    rows = np.arange(len(pos))
    mid = s.t0_sample + 5
    assert np.mean(shaped[rows, hit, mid]) < np.mean(plain[rows, hit, mid]) - 0.02


def test_a_settings_file_names_the_response_relative_to_itself(tmp_path: Path) -> None:
    folder = tmp_path / "crystal"
    folder.mkdir()
    _response(folder, "ir.csv", 10.0)
    (folder / "gen.toml").write_text('[generator]\nimpulse_response = "ir.csv"\n'
                                     'shaping_ns = 5.0\nshaping_stages = 2\n')
    s = GeneratorSettings.from_toml(folder / "gen.toml")
    assert s.impulse_response == str(folder / "ir.csv")
    assert (s.shaping_ns, s.shaping_stages) == (5.0, 2)
    assert load_impulse_response(s.impulse_response).period_ns == 0.5
