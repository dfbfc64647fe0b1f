"""The transport's output: interaction points (truth), per-gamma and per-decay tables, and their
HDF5 file (``format = "gpsa-transport"``, ``version = 1``).

Layout (one row per interaction point, per emitted gamma, per decay; columns in
:data:`POINT_COLUMNS`, :data:`GAMMA_COLUMNS`, :data:`EVENT_COLUMNS`; documented in
``docs/transport.md``)::

    /points/<column>   rows sorted by event, gamma, then the order the points happened
    /gammas/<column>   rows sorted by event, gamma
    /events/<column>   one row per decay
    attrs: format, version, source, lines_kev, n_decays, seed, geometry, crystal_ids,
           rayleigh, cross_sections, activity_hz, gpsa_version
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from gpsa.errors import GpsaError

FORMAT = "gpsa-transport"
VERSION = 1
POINT_COLUMNS: dict[str, str] = {
    "event": "uint64", "gamma": "uint8", "gamma_energy": "float32", "photon": "uint8",
    "interaction": "uint16", "process": "uint8", "crystal_id": "uint16",
    "x": "float32", "y": "float32", "z": "float32",
    "lab_x": "float32", "lab_y": "float32", "lab_z": "float32",
    "energy": "float32", "time": "float32"}
GAMMA_COLUMNS: dict[str, str] = {
    "event": "uint64", "gamma": "uint8", "energy": "float32",
    "dir_x": "float32", "dir_y": "float32", "dir_z": "float32",
    "deposited": "float32", "escaped": "float32", "lost": "float32", "n_points": "uint16"}
EVENT_COLUMNS: dict[str, str] = {"event": "uint64", "timestamp": "uint64"}


def _check(cols: dict[str, np.ndarray], spec: dict[str, str], what: str) -> dict[str, np.ndarray]:
    if set(cols) != set(spec):
        raise ValueError(f"transport {what}: columns {sorted(cols)} != {sorted(spec)}")
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise ValueError(f"transport {what}: columns differ in length {sorted(lengths)}")
    return cols


@dataclass(frozen=True, eq=False)
class TransportResult:
    """Points, gammas and decays of a transport run (dicts of equal-length numpy columns).

    In memory, positions, energies and times are float64 (the file stores float32)."""

    points: dict[str, np.ndarray]
    gammas: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.points, POINT_COLUMNS, "points")
        _check(self.gammas, GAMMA_COLUMNS, "gammas")
        _check(self.events, EVENT_COLUMNS, "events")

    @property
    def n_points(self) -> int:
        return int(len(self.points["event"]))

    @property
    def xyz(self) -> np.ndarray:
        """(M, 3) crystal-frame positions, mm."""
        return np.stack([self.points[c] for c in "xyz"], axis=1)

    @property
    def lab(self) -> np.ndarray:
        """(M, 3) lab positions, mm."""
        return np.stack([self.points[f"lab_{c}"] for c in "xyz"], axis=1)

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the HDF5 file (gzip; columns cast to the documented dtypes)."""
        out = Path(path)
        with h5py.File(out, "w") as f:
            f.attrs.update({"format": FORMAT, "version": VERSION,
                            **{k: _attr(v) for k, v in self.attrs.items()}})
            for name, cols, spec in (("points", self.points, POINT_COLUMNS),
                                     ("gammas", self.gammas, GAMMA_COLUMNS),
                                     ("events", self.events, EVENT_COLUMNS)):
                g = f.create_group(name)
                for col, dtype in spec.items():
                    data = np.asarray(cols[col], dtype=dtype)
                    g.create_dataset(col, data=data, compression="gzip",
                                     chunks=(min(max(len(data), 1), 65536),))
        return out


def _attr(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return np.asarray(v)
    return v


def read_transport(path: str | os.PathLike[str]) -> TransportResult:
    """Read a file written by :meth:`TransportResult.write`."""
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT:
            raise GpsaError(f"{path}: not a gpsa transport file (format is not {FORMAT!r})")
        attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in f.attrs.items()
                 if k not in ("format", "version")}
        return TransportResult(
            points={k: f["points"][k][()] for k in POINT_COLUMNS},
            gammas={k: f["gammas"][k][()] for k in GAMMA_COLUMNS},
            events={k: f["events"][k][()] for k in EVENT_COLUMNS}, attrs=attrs)
