"""Basis file format v1: hand-written files (as another code would write them), one bad-file
test per validation rule, round trips, order conversion and polarity flip."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from gpsa.basis.io import load_basis, write_basis
from gpsa.basis.model import Basis, segment_permutation
from gpsa.basis.toy import toy_basis
from gpsa.errors import BasisError


@pytest.fixture(scope="module")
def toy() -> Basis:
    return toy_basis(kind="smooth")


def good_content(b: Basis) -> dict[str, Any]:
    return {
        "positions": np.array(b.positions, np.float32),
        "segment": np.array(b.segment, np.int16),
        "signals": np.array(b.signals, np.float32),
        "attrs": {"format": "gpsa-basis", "version": 1, "sampling_ns": 10.0, "t0_sample":
                  b.t0_sample, "segment_order": "sector-major", "grid_mm": 6.0,
                  "crystal_type": "A", "preamp_tau_ns": 35.0, "generator": "hand-written test"},
    }


def write_by_hand(path: Path, content: dict[str, Any]) -> Path:
    """Write a basis file with plain h5py, exactly as bases/README.md tells other codes to."""
    with h5py.File(path, "w") as f:
        for name in ("positions", "segment", "signals"):
            if content.get(name) is not None:
                f.create_dataset(name, data=content[name])
        for key, value in content["attrs"].items():
            f.attrs[key] = value
    return path


def test_hand_written_file_loads(tmp_path: Path, toy: Basis) -> None:
    path = write_by_hand(tmp_path / "hand.h5", good_content(toy))
    b = load_basis(path)
    assert len(b) == len(toy) and b.n_samples == toy.n_samples
    np.testing.assert_array_equal(b.positions, toy.positions)
    np.testing.assert_array_equal(b.segment, toy.segment)
    np.testing.assert_array_equal(b.signals, toy.signals)
    assert (b.sampling_ns, b.t0_sample, b.segment_order, b.grid_mm) == (10.0, 4, "sector-major", 6)
    assert (b.crystal_type, b.preamp_tau_ns, b.generator) == ("A", 35.0, "hand-written test")
    assert b.source == str(path)
    assert isinstance(b.signals.base, np.memmap) and not b.signals.flags.writeable


def test_optional_attributes_default(tmp_path: Path, toy: Basis) -> None:
    c = good_content(toy)
    for key in ("crystal_type", "preamp_tau_ns", "generator"):
        del c["attrs"][key]
    c["attrs"]["format"] = np.bytes_(b"gpsa-basis")  # fixed-length string, as C codes write
    b = load_basis(write_by_hand(tmp_path / "min.h5", c))
    assert (b.crystal_type, b.preamp_tau_ns, b.generator) == ("", 0.0, "")


def _mutate(name: str, c: dict[str, Any]) -> None:
    n, s = c["signals"].shape[0], c["signals"].shape[2]
    a = c["attrs"]
    if name == "format":
        a["format"] = "other-basis"
    elif name == "format-missing":
        del a["format"]
    elif name == "version":
        a["version"] = 2
    elif name.startswith("missing-"):
        c[name.split("-", 1)[1]] = None
    elif name == "shape-positions":
        c["positions"] = c["positions"][:, :2].copy()
    elif name == "shape-segment":
        c["segment"] = c["segment"][:-1].copy()
    elif name == "shape-signals":
        c["signals"] = c["signals"][:, :36].copy()
    elif name == "shape-samples":
        c["signals"] = c["signals"][:, :, -1:].copy()
        a["t0_sample"] = 0
    elif name == "dtype-signals":
        c["signals"] = c["signals"].astype(np.float64)
    elif name == "dtype-positions":
        c["positions"] = np.rint(c["positions"]).astype(np.int32)
    elif name == "dtype-segment":
        c["segment"] = c["segment"].astype(np.float32)
    elif name == "segment-range-high":
        c["segment"][3] = 36
    elif name == "segment-range-low":
        c["segment"][3] = -1
    elif name == "nan-positions":
        c["positions"][5, 1] = np.nan
    elif name == "inf-signals":
        c["signals"][n - 1, 7, 2] = np.inf
    elif name == "duplicate":
        c["positions"][9] = c["positions"][2]
    elif name == "polarity-mixed":
        c["signals"][: n // 2] *= -1
    elif name == "polarity-core":
        c["signals"][4, 36] *= -1
    elif name == "polarity-scale":
        c["signals"][4] *= 0.5
    elif name == "t0-high":
        a["t0_sample"] = s
    elif name == "t0-negative":
        a["t0_sample"] = -1
    elif name == "segment-order":
        a["segment_order"] = "column-major"
    elif name == "attr-missing":
        del a["sampling_ns"]
    elif name == "attr-type":
        a["sampling_ns"] = "ten"
    elif name == "attr-value":
        a["grid_mm"] = 0.0
    else:  # pragma: no cover
        raise AssertionError(name)


BAD_FILES = [  # (mutation, rule text expected in the message)
    ("format", "format attribute"), ("format-missing", "format attribute"),
    ("version", "version"), ("missing-positions", "missing dataset"),
    ("missing-segment", "missing dataset"), ("missing-signals", "missing dataset"),
    ("shape-positions", "shape"), ("shape-segment", "shape"), ("shape-signals", "shape"),
    ("shape-samples", "shape"), ("dtype-signals", "dtype"), ("dtype-positions", "dtype"),
    ("dtype-segment", "dtype"), ("segment-range-high", "segment range"),
    ("segment-range-low", "segment range"), ("nan-positions", "finite"),
    ("inf-signals", "finite"), ("duplicate", "duplicate positions"),
    ("polarity-mixed", "polarity"), ("polarity-core", "polarity"),
    ("polarity-scale", "polarity"), ("t0-high", "t0_sample"), ("t0-negative", "t0_sample"),
    ("segment-order", "segment_order"), ("attr-missing", "attribute"),
    ("attr-type", "attribute"), ("attr-value", "attribute"),
]


@pytest.mark.parametrize(("mutation", "rule"), BAD_FILES, ids=[m for m, _ in BAD_FILES])
def test_bad_file_rule(tmp_path: Path, toy: Basis, mutation: str, rule: str) -> None:
    c = good_content(toy)
    _mutate(mutation, c)
    path = write_by_hand(tmp_path / f"{mutation}.h5", c)
    with pytest.raises(BasisError, match=rule) as err:
        load_basis(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg


def test_charge_still_collecting_at_trace_end_loads(tmp_path: Path, toy: Basis,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A slow carrier (weak-field corner) still collecting when the trace ends: the point's net
    charges are rising towards +1 at the last sample. Loaded, with one warning; a flat net charge
    of 0.5 (polarity-scale above) is still refused."""
    c = good_content(toy)
    sig = c["signals"]
    n_s = sig.shape[2]
    ramp = np.linspace(0.0, 0.7, n_s, dtype=np.float32)
    sig[4, :, :] = 0.0
    sig[4, 36] = ramp
    sig[4, int(c["segment"][4])] = ramp
    with caplog.at_level(logging.WARNING, logger="gpsa.basis.validate"):
        b = load_basis(write_by_hand(tmp_path / "slow.h5", c))
    assert b.signals[4, 36, -1] == pytest.approx(0.7)
    assert "1 of" in caplog.text and "still collecting charge" in caplog.text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BasisError, match=r"missing file") as err:
        load_basis(tmp_path / "nope.h5")
    assert str(tmp_path / "nope.h5") in str(err.value)


def test_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "text.h5"
    path.write_text("positions,segment\n1,2\n")
    with pytest.raises(BasisError, match=r"text.h5: not HDF5"):
        load_basis(path)
    with pytest.raises(BasisError, match=r"not HDF5"):
        load_basis(tmp_path)  # a directory


def test_bad_arguments(tmp_path: Path, toy: Basis) -> None:
    path = write_by_hand(tmp_path / "ok.h5", good_content(toy))
    with pytest.raises(BasisError, match="segment_order"):
        load_basis(path, segment_order="diagonal")
    with pytest.raises(BasisError, match="flip_polarity"):
        load_basis(path, flip_polarity="sometimes")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("compression", [None, "gzip"])
@pytest.mark.parametrize("mmap", [True, False])
def test_round_trip(tmp_path: Path, toy: Basis, dtype: str, compression: str | None,
                    mmap: bool) -> None:
    path = write_basis(tmp_path / "rt.h5", toy, dtype=dtype, compression=compression)
    b = load_basis(path, mmap=mmap)
    assert b.signals.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(b.signals, toy.signals.astype(dtype))
    np.testing.assert_array_equal(b.positions, toy.positions)
    np.testing.assert_array_equal(b.segment, toy.segment)
    for name in ("sampling_ns", "t0_sample", "segment_order", "grid_mm", "crystal_type",
                 "preamp_tau_ns", "generator"):
        assert getattr(b, name) == getattr(toy, name), name
    assert isinstance(b.signals.base, np.memmap) == (mmap and compression is None)
    assert not b.signals.flags.writeable
    assert not (tmp_path / "rt.h5.tmp").exists()


def test_write_rejects_bad_dtype_and_compression(tmp_path: Path, toy: Basis) -> None:
    with pytest.raises(BasisError, match="dtype"):
        write_basis(tmp_path / "x.h5", toy, dtype="float64")
    with pytest.raises(BasisError, match="compression"):
        write_basis(tmp_path / "x.h5", toy, compression="zstd")


def test_segment_order_conversion_round_trip(tmp_path: Path, toy: Basis) -> None:
    path = write_basis(tmp_path / "sm.h5", toy)
    rm = load_basis(path, segment_order="ring-major")
    assert rm.segment_order == "ring-major"
    perm = segment_permutation("sector-major", "ring-major")
    np.testing.assert_array_equal(rm.segment, perm[toy.segment])
    sector, ring = toy.segment // 6, toy.segment % 6
    np.testing.assert_array_equal(rm.segment, 6 * ring + sector)
    for old in range(36):  # channel moves with its label
        np.testing.assert_array_equal(rm.signals[:, perm[old]], toy.signals[:, old])
    np.testing.assert_array_equal(rm.signals[:, 36], toy.signals[:, 36])
    rows = np.arange(len(rm))
    np.testing.assert_allclose(rm.signals[rows, rm.segment, -1], 1.0)
    # written in ring-major, read back in sector-major: the original
    path2 = write_basis(tmp_path / "rm.h5", rm)
    with h5py.File(path2) as f:
        assert f.attrs["segment_order"] == "ring-major"
    back = load_basis(path2, segment_order="sector-major")
    np.testing.assert_array_equal(back.segment, toy.segment)
    np.testing.assert_array_equal(back.signals, toy.signals)
    assert toy.to_segment_order("sector-major") is toy


@pytest.mark.parametrize("mmap", [True, False])
def test_polarity_flip(tmp_path: Path, toy: Basis, mmap: bool) -> None:
    c = good_content(toy)
    c["signals"] = -c["signals"]
    path = write_by_hand(tmp_path / "neg.h5", c)
    for mode in ("auto", "always"):
        b = load_basis(path, flip_polarity=mode, mmap=mmap)
        np.testing.assert_array_equal(b.signals, toy.signals)
        assert not b.signals.flags.writeable
    with pytest.raises(BasisError, match=r"polarity.*never"):
        load_basis(path, flip_polarity="never")
    both = load_basis(path, segment_order="ring-major")  # flip and permute together
    np.testing.assert_array_equal(both.signals, toy.to_segment_order("ring-major").signals)
    pos = write_by_hand(tmp_path / "pos.h5", good_content(toy))
    with pytest.raises(BasisError, match=r"polarity.*always"):
        load_basis(pos, flip_polarity="always")
    assert load_basis(pos, flip_polarity="never").signals[0, 36, -1] == pytest.approx(1.0)


def test_big_endian_and_float64_positions(tmp_path: Path, toy: Basis) -> None:
    c = good_content(toy)
    c["signals"] = c["signals"].astype(">f4")  # written on a big-endian machine
    c["positions"] = c["positions"].astype(np.float64)
    c["segment"] = c["segment"].astype(np.uint8)
    b = load_basis(write_by_hand(tmp_path / "be.h5", c))
    assert b.signals.dtype == np.float32 and b.signals.dtype.isnative
    assert b.positions.dtype == np.float32 and b.segment.dtype == np.int16
    np.testing.assert_array_equal(b.signals, toy.signals)
