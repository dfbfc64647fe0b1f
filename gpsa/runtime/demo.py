"""``gpsa demo``: a self-contained run — a small generated basis, simulated crystals, the whole
local chain — and a comparison of the PSA hits with the simulation truth. No server, no download.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CRYSTALS = ("00A", "00B", "00C", "01A", "01B", "01C")

RUN_TEMPLATE = """\
# gpsa demo run: simulated crystals -> preprocessing -> PSA -> post-PSA -> outputs
[run]
crystals = {crystals}
output = "out"

[[stage]]
actor = "simulator"
basis = "{basis}"
events = {events}
block_size = 250
noise_kev = 2.0

[[stage]]
actor = "preprocess"
align_t0 = 20

[[stage]]
actor = "psa"
basis = "{basis}"
workers = 2

[[stage]]
actor = "post-psa"

[[stage]]
actor = "adf-writer"
path = "psa.adf"
{root}
[[stage]]
actor = "summary"
"""


def prepare_demo(out: Path, *, crystals: int = 3, events: int = 2000,
                 grid_mm: float = 6.0) -> Path:
    """Write a basis and a run file under ``out``; returns the run file."""
    from gpsa.basis.io import write_basis
    from gpsa.psa.testing import ToyCrystal, toy_basis

    out.mkdir(parents=True, exist_ok=True)
    basis = out / "basis" / f"toy_{grid_mm:g}mm.h5"
    if not basis.exists():
        basis.parent.mkdir(exist_ok=True)
        log.info("generating a %g mm toy basis in %s", grid_mm, basis)
        write_basis(basis, toy_basis(ToyCrystal(), grid_mm=grid_mm, n_samples=60,
                                     t0_sample=10))
    root = ('\n[[stage]]\nactor = "root-writer"\npath = "psa.root"\n'
            if importlib.util.find_spec("uproot") else "")
    run = out / "run.toml"
    run.write_text(RUN_TEMPLATE.format(crystals=list(CRYSTALS[:crystals]),
                                       basis=basis.relative_to(out), events=events, root=root))
    return run


def _centroids(event: np.ndarray, xyz: np.ndarray, energy: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(event, kind="stable")
    event, xyz, w = event[order], xyz[order], energy[order].astype(np.float64)
    keys, start = np.unique(event, return_index=True)
    sums = np.add.reduceat(xyz * w[:, None], start, axis=0)
    wsum = np.add.reduceat(w, start)
    ok = wsum > 0
    return dict(zip(keys[ok].tolist(), sums[ok] / wsum[ok, None], strict=True))


def compare_with_truth(crystal_dir: Path) -> dict[str, Any]:
    """PSA vs truth in a crystal's output folder (``psa.adf`` + ``truth.h5``): distances (mm)
    between the energy-weighted centroids of the hits and of the true interactions."""
    from gpsa.adf import read_all
    from gpsa.simulate import read_truth

    psa = read_all(crystal_dir / "psa.adf").psa
    truth = read_truth(crystal_dir / "truth.h5").interactions
    t = _centroids(truth["event_number"], np.c_[truth["x"], truth["y"], truth["z"]],
                   truth["energy"])
    h = psa.hits
    p = _centroids(psa.events.event_numbers[h.event_index], np.c_[h.x, h.y, h.z], h.energy)
    d = np.array([np.linalg.norm(p[k] - t[k]) for k in p if k in t])
    return {"events": len(psa.events), "compared": int(d.size),
            "median_mm": float(np.median(d)) if d.size else float("nan"),
            "p90_mm": float(np.percentile(d, 90)) if d.size else float("nan"), "distances": d}
