"""Events for the accuracy bench: one or two interactions in distinct segments, computed by a
signal model, with perturbations that the searched basis does not contain.

* :func:`real_model`: gpsa's generator (:func:`gpsa.basis.generate.compute_signals`) with the
  ``real`` source's event settings (:data:`gpsa.bench.sources.EVENT_SETTINGS_CHANGES`: finer
  field grid, impurity +10 %, τ 38 ns); the truth segment of an interaction is the segment its
  hole reaches. :func:`toy_model`: the analytic toy crystal of :mod:`gpsa.bench.toy` (tests).
* :func:`simulate` draws continuous positions, builds events of ``interactions`` interactions in
  distinct segments (Σ Eᵢ·sᵢ), places them at the true T0 and applies the
  :class:`Perturbation` (cross-talk, T0 jitter); :func:`with_noise` adds white noise. Making the
  noiseless events once and the noise per level keeps the generator out of the noise loop and
  makes the noise levels differ by the noise only.

Example::

    clean = simulate(real_model(), 500, interactions=2, seed=7)
    block, truth = with_noise(clean, 0.03, seed=1)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.basis.fields.response import neighbour_matrix
from gpsa.bench.sources import CACHE, EVENT_SETTINGS_CHANGES, TRACE_SAMPLES, TRACE_T0
from gpsa.bench.toy import ToyCrystal, Truth
from gpsa.block import CrystalBlock
from gpsa.psa.window import shifted_signals
from gpsa.simulate.traces import apply_crosstalk

log = logging.getLogger(__name__)

N_SEG = 36
CHUNK = 1024  # interactions time-shifted at once (bounds the temporaries)


@dataclass(frozen=True)
class Perturbation:
    """What the events contain and the basis does not (all off = ``Perturbation(0, 0, 0)``).

    * ``crosstalk``: proportional cross-talk between nearest-neighbour segments (same sector and
      ring ± 1, same ring and sector ± 1 cyclic): ``measured = (I + C)·true`` on every sample and
      on the energies, ``C[k, j] = crosstalk`` for the 2–4 neighbours ``j`` of segment ``k``; the
      core is neither source nor receiver. Default 0.5 %: inside the 0.1–1 % range of the
      proportional cross-talk measured between segments of AGATA-like 36-fold crystals (the
      AGATA matrices themselves are not public); it gives a neighbour of a 1 MeV hit 5 keV, below
      the 15 keV hit threshold, so no extra hit segments.
    * ``derivative_crosstalk``: each segment also gets this fraction of its neighbours'
      one-sample difference (differential, capacitive cross-talk; integrates to zero). Off by
      default.
    * ``t0_jitter``: rms (samples) of a Gaussian offset between the T0 that the block carries
      (the one the PSA is given: TRACE_T0 ± ½ sample) and the true T0 of the signals — a T0
      estimate error the PSA does not know of. Default 0.3 sample (3 ns at 100 MS/s).
    """

    crosstalk: float = 0.005
    derivative_crosstalk: float = 0.0
    t0_jitter: float = 0.3

    def matrix(self, order: str = "sector-major") -> np.ndarray:
        """(37, 37) float32 ``I + C`` of the proportional cross-talk (row = receiving channel)."""
        m = np.eye(N_SEG + 1, dtype=np.float32)
        m[:N_SEG, :N_SEG] += np.float32(self.crosstalk) * neighbour_matrix(order).astype(
            np.float32)
        return m

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "crosstalk_kind": "proportional, nearest-neighbour "
                "segments (traces and energies)", "derivative_crosstalk_kind": "fraction of "
                "the neighbours' one-sample difference", "t0_jitter_unit": "samples rms, "
                "unknown to the PSA (the block carries the T0 without it)"}


@dataclass(frozen=True)
class SignalModel:
    """Unit-charge signals of interactions: ``positions(n, rng)`` draws (n, 3) mm inside the
    crystal; ``signals(pos)`` gives ((n, 37, S) float32 with T0 at ``t0_sample``, segment (n,)
    int64, -1 where the interaction reaches no segment)."""

    description: str
    positions: Callable[[int, np.random.Generator], np.ndarray]
    signals: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    t0_sample: int
    segment_order: str = "sector-major"


def real_model(crystal: str = "A", cache: Path = CACHE,
               event_changes: dict[str, Any] | None = None) -> SignalModel:
    """The generator with the default settings changed by ``event_changes`` (default
    :data:`EVENT_SETTINGS_CHANGES`, as the ``real`` source's events); fields solved or loaded
    from ``cache`` on first use."""
    from gpsa.basis.fields.solve import solve_fields
    from gpsa.basis.generate import GeneratorSettings, compute_signals
    from gpsa.bench.sources import describe_changes, random_positions, settings_diff
    from gpsa.detector.segmentation import CrystalGeometry

    base = GeneratorSettings()
    settings = base.replace(**(EVENT_SETTINGS_CHANGES if event_changes is None
                               else event_changes))
    geometry = settings.geometry_of(CrystalGeometry.default(crystal))
    solved: list[Any] = []

    def signals(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not solved:
            solved.append(solve_fields(geometry, settings, cache_dir=cache))
        sig, report = compute_signals(solved[0], pos, settings, geometry.order)
        seg = np.asarray(report.hole_electrode, np.int64)
        return np.asarray(sig, np.float32), np.where((seg >= 0) & (seg < N_SEG), seg, -1)

    return SignalModel(
        f"gpsa.basis.generate shape {crystal}, {describe_changes(settings_diff(base, settings))}",
        lambda n, rng: random_positions(geometry, n, rng), signals, settings.t0_sample,
        geometry.order)


def toy_model(crystal: ToyCrystal | None = None, t0_sample: int = 5) -> SignalModel:
    """The toy crystal's own signals (long enough to fill a trace after TRACE_T0)."""
    crystal = crystal or ToyCrystal.small()
    n_samples = t0_sample + TRACE_SAMPLES - int(TRACE_T0) + 2

    def signals(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return crystal.signals(pos, n_samples, float(t0_sample)), crystal.segment_of(pos)

    return SignalModel("toy crystal (gpsa.bench.toy)", crystal.random_positions, signals,
                       t0_sample, crystal.segment_order)


@dataclass(frozen=True)
class CleanEvents:
    """Noiseless, perturbed events: traces (n, 37, S) keV, energies (n, 38) keV, the noise unit
    per event (its largest interaction energy, keV), the T0 given to the PSA, and the truth."""

    traces: np.ndarray
    energies: np.ndarray
    noise_unit: np.ndarray
    t0_given: np.ndarray
    truth: Truth
    perturbation: Perturbation


def _distinct_segments(seg: np.ndarray, n: int, k: int) -> np.ndarray | None:
    """Indices into ``seg`` (n·k,) giving each of ``n`` events ``k`` interactions in distinct
    segments (candidates with segment -1 skipped, a repeated segment skipped); None if short."""
    out = np.empty(n * k, np.int64)
    it = iter(np.flatnonzero(seg >= 0))
    for i in range(n):
        seen: set[int] = set()
        for j in range(k):
            for c in it:
                if int(seg[c]) not in seen:
                    break
            else:
                return None
            seen.add(int(seg[c]))
            out[i * k + j] = c
    return out


def _draw(model: SignalModel, n: int, k: int, rng: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions, unit signals, segments) of n·k interactions, k distinct segments per event."""
    m = n * k
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    while True:
        extra = model.positions(int(1.3 * m) + 16 if not parts else int(0.3 * m) + 16, rng)
        parts.append((extra, *model.signals(extra)))
        pos, sig, seg = (np.concatenate(a) for a in zip(*parts, strict=True))
        chosen = _distinct_segments(seg, n, k)
        if chosen is not None:
            return pos[chosen], sig[chosen], seg[chosen]
        log.info("drawing more positions (%d so far for %d interactions)", pos.shape[0], m)


def perturb(traces: np.ndarray, energies: np.ndarray, perturbation: Perturbation,
            order: str = "sector-major") -> tuple[np.ndarray, np.ndarray]:
    """Traces (n, 37, S) and energies (n, 38) with the cross-talk of ``perturbation`` (new
    arrays; channel 37 of the energies = channel 36)."""
    m = perturbation.matrix(order)
    t = apply_crosstalk(np.asarray(traces, np.float32), m)
    e = np.asarray(energies, np.float32).copy()
    e[:, :37] = e[:, :37] @ m.T
    e[:, 37] = e[:, 36]
    if perturbation.derivative_crosstalk:
        d = np.zeros_like(traces[:, :N_SEG])
        d[..., 1:] = np.diff(traces[:, :N_SEG], axis=2)
        mix = (perturbation.derivative_crosstalk * neighbour_matrix(order)).astype(np.float32)
        t[:, :N_SEG] += np.einsum("kj,njt->nkt", mix, d)
    return t, e


def simulate(model: SignalModel, n: int, *, interactions: int = 1,
             perturbation: Perturbation | None = None,
             energy: tuple[float, float] = (150.0, 1500.0), seed: int = 0) -> CleanEvents:
    """``n`` noiseless events of ``interactions`` interactions in distinct segments at continuous
    positions, energies uniform in ``energy`` (keV, each), T0 given = TRACE_T0 + U(±½), true T0
    = given + N(0, t0_jitter), cross-talk applied (default :class:`Perturbation`)."""
    pert = Perturbation() if perturbation is None else perturbation
    k = interactions
    rng = np.random.default_rng(seed)
    pos, sig, seg = _draw(model, n, k, rng)
    ev = np.repeat(np.arange(n), k)
    e = rng.uniform(*energy, n * k).astype(np.float32)
    t_given = TRACE_T0 + rng.uniform(-0.5, 0.5, n)
    t_true = t_given + (rng.normal(0.0, pert.t0_jitter, n) if pert.t0_jitter else 0.0)
    first = model.t0_sample - int(TRACE_T0)
    unit = np.empty((n * k, 37, TRACE_SAMPLES), np.float32)
    for a in range(0, n * k, CHUNK):
        idx = np.arange(a, min(a + CHUNK, n * k))
        unit[idx] = e[idx, None, None] * shifted_signals(sig, idx, first, TRACE_SAMPLES,
                                                         t_true[ev[idx]] - int(TRACE_T0))
    traces = unit.reshape(n, k, 37, TRACE_SAMPLES).sum(axis=1)
    energies = np.zeros((n, 38), np.float32)
    np.add.at(energies, (ev, seg), e)
    energies[:, 36] = energies[:, :N_SEG].sum(axis=1)
    traces, energies = perturb(traces, energies, pert, model.segment_order)
    truth = Truth(event=ev, segment=seg, position=pos.astype(np.float32), energy=e, t0=t_true)
    return CleanEvents(traces, energies, e.reshape(n, k).max(axis=1), t_given, truth, pert)


def with_noise(clean: CleanEvents, noise: float, seed: int = 0) -> tuple[CrystalBlock, Truth]:
    """A block of ``clean`` with white noise of ``noise`` × the event's largest interaction
    energy (keV rms per sample) on the 37 channels (channel 37 = the core, 36), T0 = the
    given one."""
    rng = np.random.default_rng(seed)
    n, _, s = clean.traces.shape
    tr = np.zeros((n, 38, s), np.float32)
    tr[:, :37] = clean.traces + (noise * clean.noise_unit)[:, None, None].astype(
        np.float32) * rng.standard_normal((n, 37, s), dtype=np.float32)
    tr[:, 37] = tr[:, 36]
    block = CrystalBlock.from_traces(tr, energies=clean.energies,
                                     t0=clean.t0_given.astype(np.float32))
    return block, clean.truth
