"""``gpsa demo --global``: a source through the whole chain to tracked spectra, in one command.

60Co decays at the centre of the array go through :mod:`gpsa.simulate.transport` on a handful
of crystals; their interaction points become traces in the event simulator with the demo's
truth basis (:func:`gpsa.runtime.demo.demo_bases`); every crystal's local chain (preprocess,
PSA with the demo's PSA basis, post-PSA with the transport's crystal → lab placement written as
a crmat table, :mod:`gpsa.simulate.transport.labframe`) writes data:psa; the global chain
(time sorter → event builder → tracking → event writer) builds the events, tracks them and
writes data:tracked. :mod:`gpsa.runtime.demo_tracking` then tracks the same decays on their
true positions and puts both tables side by side.

The demo's bases are gpsa's synthetic shape A, so only crystals of shape A are simulated
(:func:`choose_crystals`: an A crystal and its nearest A neighbours). With ``geometry`` (the
A180 tables) the crystals are AGATA's A shapes, whose points a synthetic-A basis covers only
approximately (points outside its grid are clamped).

Files under ``out``: ``basis/`` (the demo's bases), ``global/transport.h5`` (points),
``global/crmat.dat``, ``global/traces/<NNL>/events.adf`` (+ ``truth.h5``), ``global/run.toml``,
and the run's outputs in ``global/out/`` (``<NNL>/psa.adf``, ``global/tracked.adf``,
``global/gpsa-global.json``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gpsa.simulate.transport import ArrayGeometry

log = logging.getLogger(__name__)

SOURCE = "co60"
#: Tracking settings of the demo, for the PSA and the true positions alike.
INNER_RADIUS_MM = 235.0
NOISE_KEV = 2.0

RUN_TEMPLATE = """\
# gpsa demo --global: transport traces -> local chain -> sorter -> builder -> tracking
[run]
crystals = {crystals}
output = "out"

[[stage]]
actor = "adf-reader"
path = "traces/{{crystal}}/events.adf"
frames_per_block = 250

[[stage]]
actor = "preprocess"
align_t0 = 20

[[stage]]
actor = "psa"
basis = "{basis}"
workers = 2

[[stage]]
actor = "post-psa"
lab_transform = "crmat.dat"          # the transport's crystal -> lab placement

[[stage]]
actor = "adf-writer"
path = "psa.adf"

[[global]]
actor = "time-sorter"

[[global]]
actor = "event-builder"
window = 10

[[global]]
actor = "tracking"
inner_radius_mm = {inner}
transport = "transport.h5"           # lines and decays for the efficiency / P/T table

[[global]]
actor = "event-writer"
path = "tracked.adf"
"""


@dataclass(frozen=True)
class GlobalDemo:
    """What :func:`prepare_global_demo` made."""

    folder: Path
    run: Path
    transport: Path
    traces: Path
    crystals: list[str]
    geometry: str
    decays: int


def choose_crystals(geometry: ArrayGeometry, n: int) -> list[int]:
    """Ids of ``n`` crystals of shape A (shape index 0): the lowest-id A crystal and the A
    crystals whose axes (directions of their placements) are closest to it."""
    from gpsa.errors import ConfigError

    is_a = geometry.shape_index == 0
    ids = geometry.crystal_ids[is_a]
    if len(ids) < n:
        raise ConfigError(f"{geometry.source}: only {len(ids)} crystals of shape A, {n} asked "
                          "for")
    tr = geometry.transform.translations[is_a]
    u = tr / np.linalg.norm(tr, axis=1, keepdims=True)
    closest = np.argsort(-(u @ u[0]), kind="stable")[:n]
    return sorted(int(i) for i in ids[closest])


def prepare_global_demo(out: Path, *, crystals: int = 4, decays: int = 30000,
                        geometry: str | Path | None = None, seed: int = 1) -> GlobalDemo:
    """Bases, transport, traces, crmat and run file under ``out`` (module docstring)."""
    from gpsa.basis.grid import BasisGrid
    from gpsa.basis.io import load_basis
    from gpsa.detector import crystal_name
    from gpsa.simulate import SimConfig
    from gpsa.simulate.transport import ArrayGeometry, parse_source, transport_source
    from gpsa.simulate.transport.bridge import write_traces
    from gpsa.simulate.transport.labframe import write_crmat

    from .demo import demo_bases

    basis, truth_basis = demo_bases(out)
    folder = out / "global"
    folder.mkdir(parents=True, exist_ok=True)
    full = (ArrayGeometry.from_tables(geometry) if geometry is not None
            else ArrayGeometry.shell())
    write_crmat(folder / "crmat.dat", full)
    ids = choose_crystals(full, crystals)
    geom = full.subset(ids)
    result = transport_source(geom, parse_source(SOURCE), decays, seed=seed)
    transport = result.write(folder / "transport.h5")
    log.info("%d decays through %s: %d points", decays, geom.source, result.n_points)
    grid = BasisGrid.from_basis(load_basis(truth_basis))
    traces = folder / "traces"
    write_traces(traces, result, dict.fromkeys(ids, grid), config=SimConfig(noise_kev=NOISE_KEV),
                 seed=seed)
    names = [crystal_name(i) for i in ids]
    run = folder / "run.toml"
    run.write_text(RUN_TEMPLATE.format(crystals=names, inner=INNER_RADIUS_MM,
                                       basis=Path("..", basis.relative_to(out)).as_posix()))
    return GlobalDemo(folder, run, transport, traces, names, geom.source, decays)
