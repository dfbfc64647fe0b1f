"""The event simulator: crystal events from a basis, as :class:`gpsa.block.CrystalBlock` batches
with their :class:`.truth.Truth`.

Per batch of ``block_size`` events (all steps vectorised over the batch):
draw interactions (:mod:`.interactions`) → sum ``E·basis(x)`` with trilinear interpolation →
proportional cross-talk → per-channel energies (net charges, smeared) → place on the trace clock
with the T0 jitter → white noise → int16 ADC with the core at two gains (:mod:`.traces`) →
Poisson timestamps. One random stream per crystal, seeded from ``(seed, crystal_id)``: the same
seed and settings give the same events whatever other crystals are simulated alongside.

``CrystalBlock.t0`` is left NaN (a producer does not know T0; the truth has it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gpsa.basis.grid import BasisGrid
from gpsa.block import CrystalBlock
from gpsa.status import EventStatus

from .config import SimConfig
from .interactions import Interactions, PointSampler, Volume, draw_interactions
from .traces import (
    add_noise,
    apply_crosstalk,
    channel_energies,
    crosstalk_matrix,
    digitise,
    event_signals,
    place_in_trace,
)
from .truth import Truth

log = logging.getLogger(__name__)

TICKS_PER_SECOND = 100_000_000  # 10 ns timestamp ticks


@dataclass(frozen=True, eq=False)
class SimBatch:
    """A batch of simulated crystal events and what was put into them."""

    block: CrystalBlock
    truth: Truth

    @classmethod
    def concat(cls, batches: list[SimBatch]) -> SimBatch:
        return cls(block=CrystalBlock.concat([b.block for b in batches]),
                   truth=Truth.concat([b.truth for b in batches]))


def render(grid: BasisGrid, inter: Interactions, t0: np.ndarray, config: SimConfig,
           rng: np.random.Generator, crosstalk: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Traces of given interactions: (adc (n, 38, T) int16, energies (n, 38) float32 keV,
    clipped (n,) bool). ``t0``: interaction time per event, trace samples (fractional).
    ``crosstalk``: (37, 37) matrix ``I + C``; None uses ``config.crosstalk``."""
    basis = grid.basis
    sig = event_signals(grid, inter)
    if crosstalk is None and config.crosstalk:
        crosstalk = crosstalk_matrix(config.crosstalk)
    if crosstalk is not None:
        sig = apply_crosstalk(sig, crosstalk)
    energies = channel_energies(sig[:, :, -1], config, rng)
    traces = place_in_trace(sig, t0, basis_t0=basis.t0_sample, basis_ns=basis.sampling_ns,
                            config=config)
    add_noise(traces, config.noise_kev, rng)
    adc, clipped = digitise(traces, config)
    return adc, energies, clipped


def simulate_crystal(grid: BasisGrid, n_events: int, *, crystal_id: int = 0,
                     config: SimConfig | None = None, seed: int = 0,
                     geometry: Volume | None = None,
                     crosstalk: np.ndarray | None = None) -> Iterator[SimBatch]:
    """Yield ``n_events`` events of one crystal in batches of ``config.block_size``.

    geometry:  optional volume with ``contains(xyz)`` restricting truth points to the germanium
               (e.g. ``CrystalGeometry.default("A")``); see :mod:`.interactions`.
    crosstalk: optional (37, 37) matrix ``I + C`` overriding ``config.crosstalk``."""
    config = config or SimConfig()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(crystal_id)]))
    sampler = PointSampler(grid, geometry, config.min_support)
    if crosstalk is None and config.crosstalk:
        crosstalk = crosstalk_matrix(config.crosstalk)
    clock = float(config.start_tick)
    mean_gap = TICKS_PER_SECOND / config.rate_hz
    for start in range(0, n_events, config.block_size):
        n = min(config.block_size, n_events - start)
        inter = draw_interactions(n, sampler, config, rng)
        t0 = config.pretrigger + rng.uniform(-config.t0_jitter_samples,
                                             config.t0_jitter_samples, n)
        adc, energies, clipped = render(grid, inter, t0, config, rng, crosstalk)
        times = clock + np.cumsum(rng.exponential(mean_gap, n))
        clock = float(times[-1])
        block = _block(adc, energies, clipped, np.floor(times).astype(np.uint64),
                       np.arange(start, start + n, dtype=np.uint32), crystal_id)
        yield SimBatch(block=block, truth=_truth(inter, block, t0))
        log.debug("crystal %d: simulated events %d..%d", crystal_id, start, start + n - 1)


def simulate_given(grid: BasisGrid, inter: Interactions, timestamps: np.ndarray, *,
                   crystal_id: int = 0, config: SimConfig | None = None, seed: int = 0,
                   event_numbers: np.ndarray | None = None,
                   crosstalk: np.ndarray | None = None) -> Iterator[SimBatch]:
    """Like :func:`simulate_crystal`, for given interactions (e.g. from the gamma-ray
    transport, :func:`.interactions.given_interactions`) and given timestamps (10 ns ticks, one
    per event); ``event_numbers`` default 0..n-1. ``config`` sets everything but the points."""
    config = config or SimConfig()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(crystal_id)]))
    if crosstalk is None and config.crosstalk:
        crosstalk = crosstalk_matrix(config.crosstalk)
    n_events = len(inter.counts)
    ts = np.asarray(timestamps, np.uint64)
    numbers = np.arange(n_events, dtype=np.uint32) if event_numbers is None \
        else np.asarray(event_numbers, np.uint32)
    if len(ts) != n_events or len(numbers) != n_events:
        raise ValueError(f"{n_events} events but {len(ts)} timestamps, {len(numbers)} numbers")
    for start in range(0, n_events, config.block_size):
        n = min(config.block_size, n_events - start)
        part = inter.events(start, start + n)
        t0 = config.pretrigger + rng.uniform(-config.t0_jitter_samples,
                                             config.t0_jitter_samples, n)
        adc, energies, clipped = render(grid, part, t0, config, rng, crosstalk)
        block = _block(adc, energies, clipped, ts[start:start + n], numbers[start:start + n],
                       crystal_id)
        yield SimBatch(block=block, truth=_truth(part, block, t0))


def _block(adc: np.ndarray, energies: np.ndarray, clipped: np.ndarray, timestamps: np.ndarray,
           numbers: np.ndarray, crystal_id: int) -> CrystalBlock:
    n = len(numbers)
    status = np.where(clipped, int(EventStatus.SATURATED), 0).astype(np.uint16)
    return CrystalBlock(traces=adc, energies=energies, timestamps=timestamps,
                        event_numbers=numbers, crystal_ids=np.full(n, crystal_id, np.uint16),
                        status=status, t0=np.full(n, np.nan, np.float32))


def simulate_events(grid: BasisGrid, n_events: int, **kw: object) -> SimBatch:
    """All events of :func:`simulate_crystal` in one batch (convenient for tests and benches)."""
    return SimBatch.concat(list(simulate_crystal(grid, n_events, **kw)))  # type: ignore[arg-type]


def _truth(inter: Interactions, block: CrystalBlock, t0: np.ndarray) -> Truth:
    ev = inter.event
    return Truth(
        interactions={"event_number": block.event_numbers[ev], "crystal_id": block.crystal_ids[ev],
                      "interaction": inter.index, "x": inter.xyz[:, 0], "y": inter.xyz[:, 1],
                      "z": inter.xyz[:, 2], "energy": inter.energy, "segment": inter.segment},
        events={"event_number": block.event_numbers, "crystal_id": block.crystal_ids,
                "timestamp": block.timestamps, "t0": t0, "n_interactions": inter.counts,
                "energy": np.bincount(ev, weights=inter.energy, minlength=len(block)),
                "status": block.status})
