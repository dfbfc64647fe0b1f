"""``gpsa demo``: a self-contained run — small physical bases generated on the spot, simulated
crystals, the whole local chain — and a comparison of the PSA hits with the simulation truth. No
server, no download.

Two bases of gpsa's default AGATA shape A are made by :func:`gpsa.basis.generate.generate_basis`
(fields cached in ``<out>/basis/cache``, bases kept in ``<out>/basis``, so a second run starts at
once):

* the **PSA basis** the grid search uses: a coarse :data:`PSA_GRID_MM` lattice, fields on a
  :data:`PSA_FIELD_GRID_MM` grid, the default preamplifier (τ 35 ns);
* the **truth basis** the simulator makes the events from, with different settings
  (:data:`TRUTH_GRID_MM` lattice, :data:`TRUTH_FIELD_GRID_MM` field grid, τ
  :data:`TRUTH_TAU_NS` ns), interpolated at continuous positions — so the PSA-vs-truth figures
  are not an inverse crime (events made by the very model that analyses them).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Generated crystal shape (gpsa's synthetic AGATA shape A) of both bases.
SHAPE = "A"
PSA_GRID_MM = 4.0
PSA_FIELD_GRID_MM = 2.0
TRUTH_GRID_MM = 3.0
TRUTH_FIELD_GRID_MM = 1.5
TRUTH_TAU_NS = 38.0

CRYSTALS = ("00A", "00B", "00C", "01A", "01B", "01C")

RUN_TEMPLATE = """\
# gpsa demo run: simulated crystals -> preprocessing -> PSA -> post-PSA -> outputs
[run]
crystals = {crystals}
output = "out"

[[stage]]
actor = "simulator"
basis = "{truth_basis}"   # events from a basis with other settings (see gpsa.runtime.demo)
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


def _generated(path: Path, grid_mm: float, cache: Path, **settings: Any) -> Path:
    """``path``, generating the basis (shape :data:`SHAPE`) unless it exists."""
    if path.exists():
        return path
    from gpsa.basis.generate import GeneratorSettings, generate_basis
    from gpsa.basis.io import write_basis
    from gpsa.detector.segmentation import CrystalGeometry

    log.info("generating %s (%g mm grid, %s)", path, grid_mm, settings)
    basis = generate_basis(CrystalGeometry.default(SHAPE), grid_mm,
                           GeneratorSettings(**settings), cache_dir=cache)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_basis(path, basis)  # atomic: an interrupted demo leaves no half-written file


def demo_bases(out: Path, *, grid_mm: float | None = None,
               field_grid_mm: float | None = None, truth_grid_mm: float | None = None,
               truth_field_grid_mm: float | None = None, truth_tau_ns: float | None = None,
               cache: Path | None = None) -> tuple[Path, Path]:
    """The PSA basis and the truth basis under ``out/basis`` (generated unless they exist; see
    the module docstring); the grids and τ default to the module's constants (read at call
    time); ``cache``: field cache (default ``out/basis/cache``)."""
    grid_mm = PSA_GRID_MM if grid_mm is None else grid_mm
    field_grid_mm = PSA_FIELD_GRID_MM if field_grid_mm is None else field_grid_mm
    truth_grid_mm = TRUTH_GRID_MM if truth_grid_mm is None else truth_grid_mm
    truth_field_grid_mm = (TRUTH_FIELD_GRID_MM if truth_field_grid_mm is None
                           else truth_field_grid_mm)
    truth_tau_ns = TRUTH_TAU_NS if truth_tau_ns is None else truth_tau_ns
    out.mkdir(parents=True, exist_ok=True)
    folder = out / "basis"
    cache = cache if cache is not None else folder / "cache"
    basis = _generated(folder / f"gpsa_{SHAPE}_{grid_mm:g}mm_f{field_grid_mm:g}.h5", grid_mm,
                       cache, field_grid_mm=field_grid_mm)
    truth = _generated(folder / f"truth_{SHAPE}_{truth_grid_mm:g}mm_f{truth_field_grid_mm:g}_"
                       f"tau{truth_tau_ns:g}.h5", truth_grid_mm, cache,
                       field_grid_mm=truth_field_grid_mm, preamp_tau_ns=truth_tau_ns)
    return basis, truth


def prepare_demo(out: Path, *, crystals: int = 3, events: int = 2000,
                 grid_mm: float | None = None, field_grid_mm: float | None = None,
                 truth_grid_mm: float | None = None, truth_field_grid_mm: float | None = None,
                 truth_tau_ns: float | None = None, cache: Path | None = None) -> Path:
    """Generate the PSA and truth bases (:func:`demo_bases`) and write a run file under
    ``out``; returns the run file."""
    basis, truth = demo_bases(out, grid_mm=grid_mm, field_grid_mm=field_grid_mm,
                              truth_grid_mm=truth_grid_mm,
                              truth_field_grid_mm=truth_field_grid_mm,
                              truth_tau_ns=truth_tau_ns, cache=cache)
    root = ('\n[[stage]]\nactor = "root-writer"\npath = "psa.root"\n'
            if importlib.util.find_spec("uproot") else "")
    run = out / "run.toml"
    run.write_text(RUN_TEMPLATE.format(crystals=list(CRYSTALS[:crystals]),
                                       basis=basis.relative_to(out).as_posix(),
                                       truth_basis=truth.relative_to(out).as_posix(),
                                       events=events, root=root))
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
