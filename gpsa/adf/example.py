"""A small, valid, clearly **synthetic** ADF file, so the first command of the README works without
downloading anything: a conf:global text, data:crystal v1 frames with pulse-like traces, data:psa
frames for the same events, and meta:eof.

The traces are a toy, not a detector simulation: each event has one or two hit segments whose
traces (and the core's) rise as ``A·(1 − exp(−(t − t0)/τ))`` after T0, with Gaussian noise on all
channels. The PSA hits put one interaction per hit segment at a random point of the crystal's
bounding cylinder; they are not the output of any PSA algorithm.
"""

from __future__ import annotations

import os

import numpy as np

from gpsa.adf.writer import AdfWriter
from gpsa.block import (
    CORE,
    CORE_HIGH_GAIN,
    N_CHANNELS,
    N_SEGMENTS,
    CrystalBlock,
    PsaBlock,
    PsaEvents,
    PsaHits,
)

N_SAMPLES = 100
ADC_PER_KEV = 4.0  # toy gain: 1,500 keV -> 6,000 counts, inside a 14-bit range
RISE_SAMPLES = 3.5  # toy rise constant τ, in samples (10 ns each)
NOISE_ADC = 3.0


def synthetic_events(n_events: int, seed: int = 0) -> tuple[CrystalBlock, PsaBlock]:
    """``n_events`` synthetic crystal events and matching toy PSA results (crystal 00A)."""
    rng = np.random.default_rng(seed)
    n_hit = rng.integers(1, 3, n_events)  # 1 or 2 hit segments per event
    event_of_hit = np.repeat(np.arange(n_events), n_hit)
    m = event_of_hit.size
    seg = np.empty(m, np.int64)
    for i in range(n_events):  # distinct segments per event (tiny loop: a demo file)
        sl = event_of_hit == i
        seg[sl] = rng.choice(N_SEGMENTS, int(sl.sum()), replace=False)
    energy = rng.uniform(100.0, 1500.0, m).astype(np.float32)
    t0 = rng.uniform(18.0, 22.0, n_events).astype(np.float32)
    t = np.arange(N_SAMPLES, dtype=np.float64)
    rise = np.clip(t[None, :] - t0[:, None], 0.0, None)
    shape = 1.0 - np.exp(-rise / RISE_SAMPLES)  # (n_events, samples)
    traces = rng.normal(0.0, NOISE_ADC, (n_events, N_CHANNELS, N_SAMPLES))
    energies = np.zeros((n_events, N_CHANNELS), np.float32)
    np.add.at(traces, (event_of_hit, seg), (energy * ADC_PER_KEV)[:, None] * shape[event_of_hit])
    np.add.at(energies, (event_of_hit, seg), energy)
    e_core = np.bincount(event_of_hit, weights=energy, minlength=n_events).astype(np.float32)
    for ch in (CORE, CORE_HIGH_GAIN):
        traces[:, ch] += (e_core * ADC_PER_KEV)[:, None] * shape
        energies[:, ch] = e_core
    timestamps = np.cumsum(rng.integers(500, 5000, n_events)).astype(np.uint64)
    crystal = CrystalBlock.from_traces(np.rint(traces).astype(np.int16), energies=energies,
                                       timestamps=timestamps, crystal_ids=0, t0=t0)
    radius = 35.0 * np.sqrt(rng.uniform(0.0, 1.0, m))
    phi = rng.uniform(0.0, 2.0 * np.pi, m)
    events = PsaEvents(timestamps=timestamps, event_numbers=crystal.event_numbers,
                       crystal_ids=crystal.crystal_ids, status=np.zeros(n_events, np.uint16),
                       e0=e_core, e1=e_core, t0=t0, t1=t0,
                       psa_status=np.zeros(n_events, np.uint16))
    hits = PsaHits.build(event_of_hit, segment=seg, crystal=np.zeros(m), x=radius * np.cos(phi),
                         y=radius * np.sin(phi), z=rng.uniform(0.0, 90.0, m), energy=energy,
                         time=np.zeros(m))
    return crystal, PsaBlock(events, hits)


def write_example(path: str | os.PathLike[str], n_events: int = 8,
                  seed: int = 0) -> dict[str, int]:
    """Write the example file; returns frame and byte counts."""
    crystal, psa = synthetic_events(n_events, seed)
    text = (f"# gpsa example ADF file: SYNTHETIC data, not a measurement\n"
            f"# {n_events} data:crystal v1 frames ({N_CHANNELS} channels x {N_SAMPLES} samples, "
            f"toy exponential-rise pulses + noise)\n"
            f"# {n_events} data:psa frames with toy hits (not PSA output)\n"
            f"Crystal 00A\nSeed {seed}\n")
    from gpsa.paths import atomic_output

    with atomic_output(path) as tmp, AdfWriter(tmp, eof=True) as w:
        w.write_text(text)
        w.write(crystal)
        w.write(psa)
    return {"frames": w.frames_written, "bytes": w.bytes_written}
