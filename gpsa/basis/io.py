"""Basis file format v1 (HDF5): :func:`write_basis` and :func:`load_basis`.

The layout is specified in ``bases/README.md`` so that other codes (ADL, AGATAGeFEM, fieldgen…)
can write it. Every violation raises :class:`gpsa.errors.BasisError` with one line naming the file
and the rule (see :mod:`gpsa.basis.validate`).

Memory use of :func:`load_basis` (signals dominate, ``N·37·S·itemsize`` bytes, ~400 MB for a
48k-point float32 basis of 56 samples):

* ``mmap=True`` and an uncompressed, contiguous, little-endian ``/signals``: the array is a
  read-only memory map of the file; pages come from the OS page cache, are shared between
  processes on the host and cost no private memory. Validation streams over it once.
* otherwise (``mmap=False``, compressed or chunked file): read once into one private array with
  ``read_direct`` (no intermediate copy).
* a segment-order conversion costs one copy (the permuted array); a polarity flip is done in
  place on a private array, or costs one copy of a memory map.

The returned signals are always read-only (the basis is shared, never modified).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from gpsa.paths import atomic_output

from .model import N_BASIS_CHANNELS, SEGMENT_ORDERS, Basis, check_segment_order
from .validate import (
    check_dtypes,
    check_positions,
    check_segment,
    check_shapes,
    check_signals_finite,
    detect_polarity,
    fail,
)

log = logging.getLogger(__name__)

FORMAT = "gpsa-basis"
VERSION = 1
FLIP_MODES = ("auto", "never", "always")
#: Attributes a v1 file must carry (name -> type); the others have defaults.
REQUIRED_ATTRS: dict[str, type] = {"format": str, "version": int, "sampling_ns": float,
                                   "t0_sample": int, "segment_order": str, "grid_mm": float}
OPTIONAL_ATTRS: dict[str, tuple[type, Any]] = {"crystal_type": (str, ""),
                                               "preamp_tau_ns": (float, 0.0),
                                               "generator": (str, "")}
WRITE_CHUNK_ROWS = 4096


def write_basis(path: str | os.PathLike[str], basis: Basis, *, dtype: str | None = None,
                compression: str | int | None = None) -> Path:
    """Write ``basis`` as a v1 file at ``path`` (atomically: ``path.partial`` then a rename; a
    failed write leaves nothing, see :func:`gpsa.paths.atomic_output`).

    dtype:       ``"float32"`` or ``"float16"`` for /signals; None keeps the basis dtype.
    compression: None (contiguous, memory-mappable), ``"gzip"``, a gzip level 0–9, or ``"lzf"``.
    Signals are converted in row chunks, so writing needs no full-size temporary."""
    path = Path(path)
    out_dtype = np.dtype(dtype or basis.signals.dtype)
    if out_dtype.name not in ("float32", "float16"):
        raise fail(str(path), "dtype", f"/signals must be float32 or float16, got {out_dtype}")
    comp: dict[str, Any] = {}
    if isinstance(compression, int) and not isinstance(compression, bool):
        comp = {"compression": "gzip", "compression_opts": compression}
    elif compression in ("gzip", "lzf"):
        comp = {"compression": compression}
    elif compression is not None:
        raise fail(str(path), "compression", f"use None, 'gzip', 0-9 or 'lzf', got {compression!r}")
    n, s = len(basis), basis.n_samples
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("positions", data=np.asarray(basis.positions, np.float32))
        f.create_dataset("segment", data=np.asarray(basis.segment, np.int16))
        chunks = (min(n, 256), N_BASIS_CHANNELS, s) if comp else None
        ds = f.create_dataset("signals", shape=(n, N_BASIS_CHANNELS, s), dtype=out_dtype,
                              chunks=chunks, **comp)
        for start in range(0, n, WRITE_CHUNK_ROWS):
            ds[start:start + WRITE_CHUNK_ROWS] = np.asarray(
                basis.signals[start:start + WRITE_CHUNK_ROWS], dtype=out_dtype)
        f.attrs.update({"format": FORMAT, "version": VERSION,
                        "sampling_ns": float(basis.sampling_ns), "t0_sample": int(basis.t0_sample),
                        "segment_order": basis.segment_order, "grid_mm": float(basis.grid_mm),
                        "crystal_type": basis.crystal_type,
                        "preamp_tau_ns": float(basis.preamp_tau_ns),
                        "generator": basis.generator})
    log.info("wrote basis %s: %d points, %d samples, %s", path, n, s, out_dtype)
    return path


def _read_attr(f: h5py.File, name: str, kind: type, src: str) -> Any:
    raw = f.attrs[name]
    if isinstance(raw, np.ndarray):
        if raw.size != 1:
            raise fail(src, "attribute", f"{name} must be a scalar, got shape {raw.shape}")
        raw = raw.reshape(()).item()
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if kind is str:
        if not isinstance(raw, str):
            raise fail(src, "attribute", f"{name} must be a string, got {raw!r}")
        return raw
    if isinstance(raw, (str, bool, np.bool_)):
        raise fail(src, "attribute", f"{name} must be a number, got {raw!r}")
    if kind is int:
        if float(raw) != int(raw):
            raise fail(src, "attribute", f"{name} must be an integer, got {raw!r}")
        return int(raw)
    value = float(raw)
    if not np.isfinite(value):
        raise fail(src, "attribute", f"{name} must be finite, got {raw!r}")
    return value


def read_attrs(f: h5py.File, src: str) -> dict[str, Any]:
    """Checked attributes of an open basis file (format, version, numbers, segment order)."""
    if "format" not in f.attrs or _read_attr(f, "format", str, src) != FORMAT:
        got = f.attrs.get("format", "<missing>")
        raise fail(src, "format attribute", f"expected format={FORMAT!r}, got {got!r}")
    version = _read_attr(f, "version", int, src) if "version" in f.attrs else None
    if version != VERSION:
        raise fail(src, "version", f"unsupported version {version!r} (this gpsa reads {VERSION})")
    attrs: dict[str, Any] = {}
    for name, kind in REQUIRED_ATTRS.items():
        if name not in f.attrs:
            raise fail(src, "attribute", f"required attribute {name!r} is missing")
        attrs[name] = _read_attr(f, name, kind, src)
    for name, (kind, default) in OPTIONAL_ATTRS.items():
        attrs[name] = _read_attr(f, name, kind, src) if name in f.attrs else default
    if attrs["segment_order"] not in SEGMENT_ORDERS:
        raise fail(src, "segment_order",
                   f"must be one of {SEGMENT_ORDERS}, got {attrs['segment_order']!r}")
    for name in ("sampling_ns", "grid_mm"):
        if attrs[name] <= 0:
            raise fail(src, "attribute", f"{name} must be > 0, got {attrs[name]}")
    if attrs["preamp_tau_ns"] < 0:
        raise fail(src, "attribute", f"preamp_tau_ns must be >= 0, got {attrs['preamp_tau_ns']}")
    return attrs


def _open_signals(ds: h5py.Dataset, path: Path, mmap: bool) -> np.ndarray:
    """The /signals data as one numpy array: a read-only memory map when possible, else read
    once with ``read_direct``."""
    native = ds.dtype.isnative
    offset = ds.id.get_offset() if ds.chunks is None and ds.compression is None else None
    if mmap and native and offset is not None:
        mm = np.memmap(path, dtype=ds.dtype, mode="r", offset=offset, shape=ds.shape)
        return np.asarray(mm)  # plain ndarray view; the map stays alive through .base
    out = np.empty(ds.shape, dtype=ds.dtype.newbyteorder("="))
    ds.read_direct(out)
    return out


def load_basis(path: str | os.PathLike[str], *, segment_order: str | None = None,
               flip_polarity: str = "auto", mmap: bool = True) -> Basis:
    """Read and validate a v1 basis file.

    segment_order: convert to this order (``"sector-major"``/``"ring-major"``); None keeps the
                   file's.
    flip_polarity: ``"auto"`` flips a basis whose net charges all end near -1; ``"never"``
                   rejects it; ``"always"`` requires it (a file ending near +1 is rejected).
    mmap:          memory-map the signals when the file layout allows (see module docstring)."""
    path = Path(path)
    src = str(path)
    if flip_polarity not in FLIP_MODES:
        raise fail(src, "flip_polarity", f"must be one of {FLIP_MODES}, got {flip_polarity!r}")
    if segment_order is not None:
        check_segment_order(segment_order, src)
    if not path.exists():
        raise fail(src, "missing file", "no such file")
    if not path.is_file() or not h5py.is_hdf5(path):
        raise fail(src, "not HDF5", "the file is not an HDF5 file")
    with h5py.File(path, "r") as f:
        attrs = read_attrs(f, src)
        for name in ("positions", "segment", "signals"):
            if not isinstance(f.get(name), h5py.Dataset):
                raise fail(src, "missing dataset", f"/{name} is missing or not a dataset")
        pos_ds, seg_ds, sig_ds = f["positions"], f["segment"], f["signals"]
        n, s = check_shapes(src, pos_ds.shape, seg_ds.shape, sig_ds.shape)
        check_dtypes(src, pos_ds.dtype, seg_ds.dtype, sig_ds.dtype)
        if not 0 <= attrs["t0_sample"] < s:
            raise fail(src, "t0_sample", f"t0_sample {attrs['t0_sample']} outside 0..{s - 1}")
        positions = np.asarray(pos_ds[()], dtype=np.float64)
        segment = np.asarray(seg_ds[()])
        signals = _open_signals(sig_ds, path, mmap)
    check_segment(src, segment)
    check_positions(src, positions)
    check_signals_finite(src, signals)
    sign = detect_polarity(src, signals, segment)
    if sign == 1 and flip_polarity == "always":
        raise fail(src, "polarity", "flip_polarity='always' but net charges already end near +1")
    if sign == -1 and flip_polarity == "never":
        raise fail(src, "polarity", "net charges end near -1 (negative polarity) and "
                   "flip_polarity='never'")
    basis = Basis(positions=positions.astype(np.float32), segment=segment.astype(np.int16),
                  signals=signals, source=src, **attrs_for_basis(attrs))
    if segment_order is not None and segment_order != basis.segment_order:
        basis = basis.to_segment_order(segment_order)  # private copy of the signals
    if sign == -1:
        sig = basis.signals
        sig = np.negative(sig, out=sig) if sig.flags.writeable else np.negative(sig)
        basis = basis.replace(signals=sig)
        log.info("%s: negative polarity, signals flipped", src)
    basis.signals.flags.writeable = False
    log.debug("loaded basis %s: %d points, %d samples, %s", src, n, s, basis.signals.dtype)
    return basis


def attrs_for_basis(attrs: dict[str, Any]) -> dict[str, Any]:
    """The file attributes that are :class:`Basis` fields (drops format and version)."""
    return {k: v for k, v in attrs.items() if k not in ("format", "version")}
