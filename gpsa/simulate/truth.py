"""Simulation truth: what was put into every event, and its HDF5 side file ``truth.h5``.

Layout of ``truth.h5`` (``format = "gpsa-truth"``, ``version = 1``; one row per interaction
or per event; all crystals of a run in one file, rows in the order they were simulated)::

    /interactions/event_number    uint32   event number (ADF frame key) of the crystal event
    /interactions/crystal_id      uint16   3·cluster + {A:0, B:1, C:2}
    /interactions/interaction     uint8    0, 1, 2 … within the event
    /interactions/x, y, z         float32  mm, crystal frame
    /interactions/energy          float32  keV deposited
    /interactions/segment         int16    segment of the nearest basis point (attr segment_order)
    /events/event_number          uint32
    /events/crystal_id            uint16
    /events/timestamp             uint64   10 ns ticks
    /events/t0                    float32  true interaction time in the trace, samples
    /events/n_interactions        uint8
    /events/energy                float32  keV, sum over the interactions
    /events/status                uint16   EventStatus bits set by the simulator (SATURATED)

Join interactions to events (and to ADF frames) on ``(crystal_id, event_number)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from gpsa.errors import GpsaError

FORMAT = "gpsa-truth"
VERSION = 1
INTERACTION_COLUMNS: dict[str, str] = {
    "event_number": "uint32", "crystal_id": "uint16", "interaction": "uint8", "x": "float32",
    "y": "float32", "z": "float32", "energy": "float32", "segment": "int16"}
EVENT_COLUMNS: dict[str, str] = {
    "event_number": "uint32", "crystal_id": "uint16", "timestamp": "uint64", "t0": "float32",
    "n_interactions": "uint8", "energy": "float32", "status": "uint16"}


def _cast(columns: dict[str, np.ndarray], spec: dict[str, str], what: str) -> dict[str, np.ndarray]:
    if set(columns) != set(spec):
        raise ValueError(f"truth {what}: columns {sorted(columns)} != {sorted(spec)}")
    out = {k: np.asarray(columns[k], dtype=spec[k]) for k in spec}
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        raise ValueError(f"truth {what}: columns differ in length {sorted(lengths)}")
    return out


@dataclass(frozen=True, eq=False)
class Truth:
    """Per-interaction and per-event truth tables (dicts of equal-length columns)."""

    interactions: dict[str, np.ndarray]
    events: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        object.__setattr__(self, "interactions",
                           _cast(self.interactions, INTERACTION_COLUMNS, "interactions"))
        object.__setattr__(self, "events", _cast(self.events, EVENT_COLUMNS, "events"))

    @property
    def n_events(self) -> int:
        return int(len(self.events["event_number"]))

    @property
    def n_interactions(self) -> int:
        return int(len(self.interactions["event_number"]))

    @property
    def xyz(self) -> np.ndarray:
        """(M, 3) float32 interaction positions, mm."""
        return np.stack([self.interactions[c] for c in "xyz"], axis=1)

    @classmethod
    def concat(cls, parts: list[Truth]) -> Truth:
        return cls(
            interactions={k: np.concatenate([p.interactions[k] for p in parts])
                          for k in INTERACTION_COLUMNS},
            events={k: np.concatenate([p.events[k] for p in parts]) for k in EVENT_COLUMNS})


class TruthWriter:
    """Appends :class:`Truth` parts to a ``truth.h5`` file (resizable, gzip-compressed)."""

    def __init__(self, path: str | os.PathLike[str], *, segment_order: str,
                 attrs: dict[str, str | int | float] | None = None) -> None:
        self.path = Path(path)
        self._f = h5py.File(self.path, "w")
        self._f.attrs.update({"format": FORMAT, "version": VERSION,
                              "segment_order": segment_order, **(attrs or {})})
        for group, spec in (("interactions", INTERACTION_COLUMNS), ("events", EVENT_COLUMNS)):
            g = self._f.create_group(group)
            for name, dtype in spec.items():
                g.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                 chunks=(65536,), compression="gzip")

    def append(self, truth: Truth) -> None:
        for group, cols in (("interactions", truth.interactions), ("events", truth.events)):
            for name, values in cols.items():
                ds = self._f[group][name]
                start = ds.shape[0]
                ds.resize((start + len(values),))
                ds[start:] = values

    def close(self) -> None:
        if self._f.id.valid:
            self._f.close()

    def __enter__(self) -> TruthWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_truth(path: str | os.PathLike[str]) -> Truth:
    """Read a whole ``truth.h5`` file."""
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT:
            raise GpsaError(f"{path}: not a gpsa truth file (format attribute is not {FORMAT!r})")
        return Truth(interactions={k: f["interactions"][k][()] for k in INTERACTION_COLUMNS},
                     events={k: f["events"][k][()] for k in EVENT_COLUMNS})
