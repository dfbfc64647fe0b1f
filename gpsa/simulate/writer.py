"""Write a simulated run to a folder: one ADF data:crystal file per crystal, the truth, a manifest.

Layout of ``OUT/``::

    OUT/manifest.json        settings and provenance (format "gpsa-simulation", version 1)
    OUT/truth.h5             truth of every crystal (layout in :mod:`gpsa.simulate.truth`)
    OUT/<NNL>/events.adf     data:crystal v1 frames (gpsa.adf), then a meta:eof frame

Traces: 38 channels × ``n_samples`` int16: segments 0–35 in the basis segment order (manifest
``segment_order``), 36 the core at the low gain, 37 the core at the high gain.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsa import __version__
from gpsa.basis.grid import BasisGrid
from gpsa.errors import ConfigError
from gpsa.paths import atomic_output, check_writable
from gpsa.status import EventStatus

from .config import SimConfig
from .events import simulate_crystal
from .interactions import Volume
from .truth import TruthWriter

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "gpsa-simulation"
MANIFEST_VERSION = 1
EVENTS_FILE = "events.adf"


@dataclass(frozen=True)
class CrystalSpec:
    """One crystal to simulate: its name (``"00A"``), id, basis grid and optional geometry."""

    name: str
    crystal_id: int
    grid: BasisGrid
    geometry: Volume | None = None
    geometry_label: str = "none"


def write_simulation(out_dir: str | os.PathLike[str], crystals: Sequence[CrystalSpec],
                     n_events: int, *, config: SimConfig | None = None, seed: int = 0,
                     progress: Callable[[str, int], None] | None = None,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Simulate ``n_events`` events per crystal into ``out_dir``; returns the manifest (also
    written to ``out_dir/manifest.json``). ``progress(name, n)`` is called after every block."""
    from gpsa.adf import AdfWriter

    config = config or SimConfig()
    if not crystals:
        raise ConfigError("simulate: no crystal given")
    orders = {c.grid.basis.segment_order for c in crystals}
    if len(orders) != 1:
        raise ConfigError(f"simulate: the bases use different segment orders {sorted(orders)}; "
                          f"convert them to one order")
    names = [c.name for c in crystals]
    if len(set(names)) != len(names):
        raise ConfigError(f"simulate: crystal listed twice in {names}")
    out = check_writable(out_dir)
    order = orders.pop()
    entries = []
    # every file is written as NAME.partial and renamed when complete (none left on failure)
    with atomic_output(out / "truth.h5") as truth_tmp, TruthWriter(
            truth_tmp, segment_order=order,
            attrs={"seed": int(seed), "gpsa_version": __version__}) as truth_out:
        for spec in crystals:
            path = out / spec.name / EVENTS_FILE
            counts = {"events": 0, "interactions": 0, "saturated": 0}
            with atomic_output(path) as tmp, AdfWriter(tmp, eof=True) as adf:
                for batch in simulate_crystal(spec.grid, n_events, crystal_id=spec.crystal_id,
                                              config=config, seed=seed, geometry=spec.geometry):
                    adf.write(batch.block)
                    truth_out.append(batch.truth)
                    counts["events"] += len(batch.block)
                    counts["interactions"] += batch.truth.n_interactions
                    counts["saturated"] += int(np.count_nonzero(
                        batch.block.status & EventStatus.SATURATED))
                    if progress is not None:
                        progress(spec.name, len(batch.block))
            basis = spec.grid.basis
            entries.append({
                "name": spec.name, "crystal_id": spec.crystal_id,
                "file": f"{spec.name}/{EVENTS_FILE}", "bytes": path.stat().st_size,
                "basis": basis.source, "basis_generator": basis.generator,
                "basis_points": len(basis), "basis_crystal_type": basis.crystal_type,
                "geometry": spec.geometry_label, **counts})
            log.info("%s: %d events, %d interactions, %d saturated -> %s", spec.name,
                     counts["events"], counts["interactions"], counts["saturated"], path)
    manifest = {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "gpsa_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": int(seed), "events_per_crystal": int(n_events), "segment_order": order,
        "channels": "0-35 segments (segment_order), 36 core low gain, 37 core high gain",
        "adf_key": "data:crystal", "adf_version": 1, "truth": "truth.h5",
        "settings": config.to_dict(), "crystals": entries, **(extra or {}),
    }
    with atomic_output(out / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
