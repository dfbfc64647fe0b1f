"""From transport points to traces: one crystal's points → the event simulator's interactions.

A crystal event is one decay that deposited energy in that crystal: all its points there (both
gammas of a cascade, and the annihilation photons, alike) make one event of the event simulator
(:func:`gpsa.simulate.events.simulate_given`), with the decay's timestamp plus the first
point's flight time, so that crystal events of one decay coincide across crystals. Positions are
the crystal-frame points; a basis that does not cover a point clamps it to its grid (see
:mod:`gpsa.basis.grid`), so the basis should be made for that crystal's shape.

:func:`write_traces` writes, per crystal, ``OUT/<NNL>/events.adf`` (data:crystal), all crystals'
truth in ``OUT/truth.h5`` (:mod:`gpsa.simulate.truth`) and ``OUT/manifest.json``: the layout of
``gpsa simulate``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gpsa import __version__
from gpsa.basis.grid import BasisGrid
from gpsa.simulate.config import SimConfig
from gpsa.simulate.events import SimBatch, simulate_given
from gpsa.simulate.interactions import Interactions, given_interactions
from gpsa.simulate.truth import TruthWriter

from .table import TransportResult

log = logging.getLogger(__name__)
TICKS_PER_NS = 0.1


@dataclass(frozen=True, eq=False)
class CrystalPoints:
    """One crystal's events from a transport run."""

    crystal_id: int
    interactions: Interactions
    decays: np.ndarray  # (n,) decay (transport event) of every crystal event
    timestamps: np.ndarray  # (n,) uint64 10 ns ticks


def crystal_points(result: TransportResult, crystal_id: int, grid: BasisGrid) -> CrystalPoints:
    """The points of ``crystal_id`` grouped into crystal events (one per decay)."""
    pts = result.points
    rows = np.flatnonzero(pts["crystal_id"] == crystal_id)
    decay = pts["event"][rows].astype(np.int64)
    order = np.argsort(decay, kind="stable")
    rows, decay = rows[order], decay[order]
    decays, event = np.unique(decay, return_inverse=True)
    xyz = np.stack([pts[c][rows] for c in "xyz"], axis=1)
    inter = given_interactions(event, xyz, pts["energy"][rows], grid)
    first = np.searchsorted(event, np.arange(len(decays)))
    flight = np.floor(pts["time"][rows][first] * TICKS_PER_NS) if len(rows) else np.zeros(0)
    ts = result.events["timestamp"][decays].astype(np.uint64) + flight.astype(np.uint64)
    return CrystalPoints(int(crystal_id), inter, decays, ts)


def crystal_batches(result: TransportResult, crystal_id: int, grid: BasisGrid, *,
                    config: SimConfig | None = None, seed: int = 0) -> list[SimBatch]:
    """Traces (and truth) of one crystal's transport events."""
    cp = crystal_points(result, crystal_id, grid)
    return list(simulate_given(grid, cp.interactions, cp.timestamps, crystal_id=crystal_id,
                               config=config, seed=seed,
                               event_numbers=cp.decays.astype(np.uint32)))


def write_traces(out_dir: str | os.PathLike[str], result: TransportResult,
                 grids: dict[int, BasisGrid], *, config: SimConfig | None = None,
                 seed: int = 0) -> dict[str, Any]:
    """Traces of the crystals in ``grids`` (crystal id → basis grid) into ``out_dir``; returns
    the manifest. ADF event numbers are the decay numbers (so crystal events of one decay share
    them)."""
    from gpsa.adf import AdfWriter
    from gpsa.detector import crystal_name
    from gpsa.paths import atomic_output, check_writable

    config = config or SimConfig()
    out = check_writable(out_dir)
    orders = {g.basis.segment_order for g in grids.values()}
    order = orders.pop() if len(orders) == 1 else "mixed"
    entries = []
    with atomic_output(out / "truth.h5") as tmp, TruthWriter(
            tmp, segment_order=order, attrs={"seed": int(seed), "gpsa_version": __version__,
                                              "points": "gpsa transport"}) as truth:
        for cid, grid in sorted(grids.items()):
            name = crystal_name(cid)
            path = Path(out) / name / "events.adf"
            n_ev = n_int = 0
            with atomic_output(path) as atmp, AdfWriter(atmp, eof=True) as adf:
                for batch in crystal_batches(result, cid, grid, config=config, seed=seed):
                    adf.write(batch.block)
                    truth.append(batch.truth)
                    n_ev += len(batch.block)
                    n_int += batch.truth.n_interactions
            entries.append({"name": name, "crystal_id": cid, "file": f"{name}/events.adf",
                            "events": n_ev, "interactions": n_int,
                            "basis": grid.basis.source})
            log.info("%s: %d events, %d interactions -> %s", name, n_ev, n_int, path)
    manifest = {"format": "gpsa-simulation", "version": 1, "gpsa_version": __version__,
                "seed": int(seed), "segment_order": order, "adf_key": "data:crystal",
                "adf_version": 1, "truth": "truth.h5", "settings": config.to_dict(),
                "points_from": {k: result.attrs.get(k) for k in ("source", "n_decays", "seed",
                                                                  "geometry")},
                "crystals": entries, "command": "gpsa transport"}
    with atomic_output(Path(out) / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest
