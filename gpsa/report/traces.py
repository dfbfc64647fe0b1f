"""Measured vs best-fit basis traces for a few events of a simulated run.

The run folder keeps the PSA results, not the traces they came from; for a run whose producer
is the ``simulator`` the traces are remade exactly: the simulator is deterministic given its
settings in ``gpsa-run.json`` (basis, seed, crystal id, noise, cross-talk, multiplicity, block
size), so its first block is simulated again, checked against the run's own event numbers and
core energies, and preprocessed with the run's ``preprocess`` settings. The best fit is the sum
over an event's hits of hit energy × the signal of the PSA basis point nearest the hit, shifted
from the basis's ``t0_sample`` to the preprocessing's ``align_t0``. Runs of other producers, or
without a preprocess and psa stage, get no trace figure (the page says why)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.block import CORE, CrystalBlock
from gpsa.report.data import CrystalData, RunData
from gpsa.report.figures import Figure, new_figure, save

log = logging.getLogger(__name__)

#: Events shown, and channels per event (the hit segments with the most energy, then the core).
EVENTS = 3
CHANNELS = 3


@dataclass(frozen=True)
class EventTraces:
    """One event: its number, the channels shown, measured and best-fit traces (C, S) in keV."""

    event_number: int
    channels: np.ndarray
    measured: np.ndarray
    fitted: np.ndarray

    @property
    def residual_ratio(self) -> float:
        """rms(measured − fit) / rms(measured) over the channels shown."""
        rms = float(np.sqrt(np.mean(self.measured ** 2)))
        return float(np.sqrt(np.mean((self.measured - self.fitted) ** 2))) / rms if rms else 0.0


def _settings(crystal: CrystalData) -> dict[str, dict[str, Any]]:
    stages = (crystal.provenance.get("config") or {}).get("stages") or []
    return {str(s.get("actor")): dict(s.get("settings") or {}) for s in stages}


def remade_block(crystal: CrystalData) -> tuple[CrystalBlock, dict[str, dict[str, Any]]] | None:
    """The crystal's first block as the run preprocessed it, or None when it cannot be remade
    (not a simulated run, a stage missing, or the remade events do not match the run's)."""
    st = _settings(crystal)
    if (crystal.psa is None or crystal.lab_frame
            or not {"simulator", "preprocess", "psa"} <= set(st)):
        return None
    from gpsa.actors.preprocess import Preprocess
    from gpsa.basis.grid import BasisGrid
    from gpsa.basis.io import load_basis
    from gpsa.detector.naming import crystal_id
    from gpsa.runtime.actor import RunContext
    from gpsa.simulate import SimConfig
    from gpsa.simulate.events import simulate_crystal

    sim = st["simulator"]
    cid = int(sim.get("crystal_id", -1))
    cid = crystal_id(crystal.name) if cid < 0 else cid
    config = SimConfig(block_size=int(sim["block_size"]), noise_kev=float(sim["noise_kev"]),
                       crosstalk=float(sim["crosstalk"]),
                       multiplicity=tuple(sim["multiplicity"]))
    grid = BasisGrid.from_basis(load_basis(Path(sim["basis"])))
    batch = next(iter(simulate_crystal(grid, int(sim["events"]), crystal_id=cid,
                                       config=config, seed=int(sim["seed"]))), None)
    if batch is None:
        return None
    pre = Preprocess(**{k: v for k, v in st["preprocess"].items() if v is not None})
    pre.start(RunContext())
    block = pre.process(batch.block)
    n = min(len(block), len(crystal.psa))
    events = crystal.psa.events
    if n == 0 or not (np.array_equal(block.event_numbers[:n], events.event_numbers[:n])
                      and np.allclose(block.energies[:n, CORE], events.e0[:n], rtol=1e-4,
                                      atol=0.1)):
        log.warning("report: %s: remade events differ from the run's; no trace figure",
                    crystal.name)
        return None
    return block, st


def event_traces(crystal: CrystalData, n_events: int = EVENTS) -> list[EventTraces]:
    """Measured and best-fit traces of the first ``n_events`` events with hits."""
    made = remade_block(crystal)
    if made is None or crystal.psa is None:
        return []
    block, st = made
    from gpsa.basis.grid import BasisGrid
    from gpsa.basis.io import load_basis

    basis = load_basis(Path(st["psa"]["basis"]))
    grid = BasisGrid.from_basis(basis)
    shift = int(st["preprocess"].get("align_t0") or basis.t0_sample) - int(basis.t0_sample)
    hits, out = crystal.psa.hits, []
    n_samples, b_samples = block.n_samples, basis.signals.shape[2]
    for event in range(len(block)):
        sel = np.flatnonzero(hits.event_index == event)
        if sel.size == 0:
            continue
        points = grid.nearest(np.c_[hits.x[sel], hits.y[sel], hits.z[sel]])
        model = np.einsum("h,hcs->cs", hits.energy[sel].astype(np.float64),
                          np.asarray(basis.signals[points], np.float64))
        fitted = np.zeros((model.shape[0], n_samples))
        lo, hi = max(shift, 0), min(n_samples, shift + b_samples)
        fitted[:, lo:hi] = model[:, lo - shift:hi - shift]
        fitted[:, hi:] = model[:, -1:]
        order = np.argsort(-hits.energy[sel], kind="stable")
        segments = list(dict.fromkeys(int(s) for s in hits.segment[sel][order]))[:CHANNELS - 1]
        channels = np.array([*segments, CORE])
        out.append(EventTraces(int(block.event_numbers[event]), channels,
                               block.traces[event, channels].astype(np.float64),
                               fitted[channels]))
        if len(out) == n_events:
            break
    return out


def plot_traces(run: RunData, folder: Path) -> Figure | None:
    """Measured vs best fit for a few events of the first crystal that allows it."""
    for crystal in run.crystals:
        events = event_traces(crystal)
        if events:
            break
    else:
        return None
    fig, axes = new_figure(CHANNELS, len(events), width=3.6, height=2.6)
    for row, ev in zip(axes, events, strict=False):
        for ax, k in zip(row, range(CHANNELS), strict=True):
            if k >= len(ev.channels):
                ax.set_axis_off()
                continue
            name = "core" if ev.channels[k] == CORE else f"segment {ev.channels[k]}"
            ax.plot(ev.measured[k], lw=1, label="measured")
            ax.plot(ev.fitted[k], lw=1, ls="--", label="best fit")
            ax.set_title(f"event {ev.event_number}, {name}", fontsize="small")
            ax.set_xlabel("sample")
            ax.set_ylabel("keV")
        row[0].legend(fontsize="x-small")
    ratios = ", ".join(f"event {e.event_number}: {e.residual_ratio:.1%}" for e in events)
    caption = (f"{crystal.name}, first {len(events)} events with hits (remade by the simulator "
               f"from the run's settings): rms residual / rms measured over the channels shown "
               f"{ratios}")
    return save(fig, folder / "traces.png", "Measured vs best-fit traces", caption)
