"""Interaction-truth tables as ``.npz`` files, the layout ``gpsa track`` reads
(``docs/tracking.md``)::

    event    (m,) int64    event number, rows grouped by event (non-decreasing)
    crystal  (m,) int64    crystal id (-1 when unknown)
    x, y, z  (m,) float64  lab position, mm
    energy   (m,) float64  deposited energy, keV
    time     (m,) float64  ns (only the order within a gamma matters)
    gamma    (m,) int64    gamma id (unique in the file), its rows in time order
    emitted  (m,) float64  the gamma's emitted energy, keV
    lines_kev        (l,) float64  the source lines
    emitted_per_line (l,) int64    gammas emitted per line (those without interaction too)

:func:`read_truth` also reads the transport's HDF5 file (``gpsa transport``, format
``gpsa-transport``, ``docs/transport.md``) through :func:`from_transport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gpsa.errors import ConfigError
from gpsa.tracking.toymc import ToyEvents

if TYPE_CHECKING:
    from gpsa.simulate.transport import TransportResult

TRANSPORT_SUFFIXES = (".h5", ".hdf5")
COLUMNS = ("event", "crystal", "x", "y", "z", "energy", "time", "gamma", "emitted")


@dataclass(frozen=True, eq=False)
class Truth:
    """A truth table (columns of the module docstring) with event CSR offsets."""

    columns: dict[str, np.ndarray]
    lines_kev: np.ndarray
    emitted_per_line: np.ndarray

    @property
    def positions(self) -> np.ndarray:
        c = self.columns
        return np.stack([c["x"], c["y"], c["z"]], axis=1)

    @property
    def offsets(self) -> np.ndarray:
        ev = self.columns["event"]
        starts = np.flatnonzero(np.concatenate([[True], ev[1:] != ev[:-1]])) if ev.size else \
            np.zeros(0, np.int64)
        return np.concatenate([starts, [ev.size]]).astype(np.int64)

    def first_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per gamma with an interaction: its first point (k, 3), its event index (into
        :attr:`offsets`) and its emitted energy."""
        g = self.columns["gamma"]
        first = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]])) if g.size else \
            np.zeros(0, np.int64)
        ev_index = np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))
        return self.positions[first], ev_index[first], self.columns["emitted"][first]


def from_toy(toy: ToyEvents) -> Truth:
    ev = np.repeat(np.arange(len(toy), dtype=np.int64), np.diff(toy.offsets))
    lines, counts = np.unique(toy.emitted, return_counts=True)
    cols = {"event": ev, "crystal": toy.crystal,
            "x": toy.positions[:, 0], "y": toy.positions[:, 1], "z": toy.positions[:, 2],
            "energy": toy.energies, "time": toy.step.astype(np.float64),
            "gamma": toy.gamma, "emitted": toy.emitted[toy.gamma]}
    return Truth(cols, lines.astype(np.float64), counts.astype(np.int64))


def from_transport(result: TransportResult) -> Truth:
    """The truth table of a transport run: its ``/points`` in the lab frame, one gamma per
    (decay, line) (the annihilation photons of a pair production belong to their gamma), and
    every line emitted once per decay."""
    p = result.points
    ev = np.asarray(p["event"], np.int64)
    lines = np.asarray(result.attrs.get("lines_kev", []), np.float64).reshape(-1)
    n_lines = max(len(lines), 1)
    cols = {"event": ev, "crystal": np.asarray(p["crystal_id"], np.int64),
            **{c: np.asarray(p[f"lab_{c}"], np.float64) for c in "xyz"},
            "energy": np.asarray(p["energy"], np.float64),
            "time": np.asarray(p["time"], np.float64),
            "gamma": ev * n_lines + np.asarray(p["gamma"], np.int64),
            "emitted": np.asarray(p["gamma_energy"], np.float64)}
    n_decays = int(result.attrs.get("n_decays", len(result.events["event"])))
    return Truth(cols, lines, np.full(len(lines), n_decays, np.int64))


def write_truth(path: str | Path, truth: Truth) -> None:
    np.savez(path, lines_kev=truth.lines_kev, emitted_per_line=truth.emitted_per_line,
             **truth.columns)


def read_truth(path: str | Path) -> Truth:
    """Read and check a truth ``.npz``, or a transport ``.h5`` / ``.hdf5`` file (one-line
    ConfigError naming the file otherwise)."""
    if Path(path).suffix.lower() in TRANSPORT_SUFFIXES:
        from gpsa.simulate.transport import read_transport

        try:
            return from_transport(read_transport(path))
        except (OSError, KeyError) as exc:
            raise ConfigError(f"{path}: not a readable transport file ({exc})") from None
    with np.load(path) as f:
        missing = [c for c in (*COLUMNS, "lines_kev", "emitted_per_line") if c not in f.files]
        if missing:
            raise ConfigError(f"{path}: not a truth table, missing {', '.join(missing)}")
        cols = {c: np.asarray(f[c]) for c in COLUMNS}
        lines, emitted = np.asarray(f["lines_kev"], float), np.asarray(f["emitted_per_line"])
    n = cols["event"].shape[0]
    if any(v.shape != (n,) for v in cols.values()):
        raise ConfigError(f"{path}: columns of different lengths")
    if n and np.any(np.diff(cols["event"]) < 0):
        raise ConfigError(f"{path}: rows must be grouped by event (non-decreasing)")
    return Truth({c: v.astype(np.float64 if c in ("x", "y", "z", "energy", "time", "emitted")
                              else np.int64) for c, v in cols.items()},
                 lines, emitted.astype(np.int64))
