"""PSA benchmark: speed of every backend on the same events, agreement with the exhaustive numpy
reference, and a roofline of the same arithmetic (used by ``gpsa bench`` and bench/bench_psa.py).

Each timing is paired with a correctness figure (agreement with the reference's best grid point)
and GPU timings synchronise before the clock stops (the backend downloads its results). A
"search" is one hit segment searched once; single-interaction events have one hit each.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np

from gpsa._numba import jit_options
from gpsa.basis.model import Basis
from gpsa.bench.toy import ToyCrystal, Truth, toy_basis
from gpsa.block import CrystalBlock, PsaBlock
from gpsa.device import Device, select_device
from gpsa.psa.engine import GridSearchPSA
from gpsa.psa.kernels.cpu_kernels import channel_sum, p_mode
from gpsa.psa.settings import PsaSettings

log = logging.getLogger(__name__)

TOY_CACHE = Path("bases/cache/toy_coax_2mm.h5")


@dataclass(frozen=True)
class Case:
    """One timed configuration."""

    backend: str
    search: str
    p: float
    shortlist: int = 0
    rank: int = 64
    threads: int = 0

    @property
    def label(self) -> str:
        k = f" K={self.shortlist}" if self.shortlist else ""
        r = f" rank={self.rank}" if self.backend == "numba" else ""
        t = f" threads={self.threads}" if self.threads else ""
        return f"{self.backend} {self.search} p={self.p:g}{k}{r}{t}"

    def settings(self, base: PsaSettings) -> PsaSettings:
        return base.replace(backend=self.backend, search=self.search, p=self.p,
                            shortlist=self.shortlist, rank=self.rank, threads=self.threads)


@dataclass
class Result:
    case: Case
    seconds: float
    n_events: int
    n_hits: int
    agreement: float | None  # same best grid point as the exhaustive reference (same p)
    median_error_mm: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def searches_per_s(self) -> float:
        return self.n_hits / self.seconds

    @property
    def events_per_s(self) -> float:
        return self.n_events / self.seconds


def toy_crystal_basis(cache: Path | None = TOY_CACHE) -> tuple[Basis, ToyCrystal]:
    """The full-size toy basis (~56k points on a 2 mm grid), cached as a basis file."""
    crystal = ToyCrystal()
    if cache is not None and cache.exists():
        from gpsa.basis.io import load_basis

        return load_basis(cache), crystal
    log.info("generating the toy basis (about a minute)")
    basis = toy_basis(crystal, grid_mm=2.0, n_samples=56, t0_sample=10)
    if cache is not None:
        from gpsa.basis.io import write_basis

        cache.parent.mkdir(parents=True, exist_ok=True)
        write_basis(cache, basis)
    return basis, crystal


def positions(out: PsaBlock) -> np.ndarray:
    return np.stack([out.hits.x, out.hits.y, out.hits.z], axis=1)


def errors(out: PsaBlock, truth: Truth) -> np.ndarray:
    """(hits, 3) found − true position, for single-interaction events (one hit per event)."""
    return positions(out) - truth.position[out.hits.event_index]


def same_points(a: PsaBlock, b: PsaBlock) -> float:
    """Fraction of hits (matched by order) at the same position."""
    n = min(len(a.hits), len(b.hits))
    return float(np.mean(np.all(positions(a)[:n] == positions(b)[:n], axis=1))) if n else 1.0


def timed_run(psa: GridSearchPSA, block: CrystalBlock, repeat: int = 1) -> tuple[float, PsaBlock]:
    """Best wall time of ``repeat`` runs (after setup and a warm-up on 32 events: numba
    compilation)."""
    psa.prepare()
    warm = 32 if psa.settings.backend == "reference" else len(block)  # compile every variant
    psa.run(block.take(slice(0, min(warm, len(block)))))
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = psa.run(block)
        best = min(best, time.perf_counter() - t)
    assert out is not None
    return best, out


def speed_suite(basis: Basis, block: CrystalBlock, truth: Truth, cases: list[Case], *,
                base: PsaSettings, n_reference: int, device: Device | None = None,
                repeat: int = 1) -> list[Result]:
    """Time every case; reference cases run on the first ``n_reference`` events, the others on
    all; agreement is measured on those first events against the full reference of equal p."""
    device = device or select_device("cpu")
    sub = block.take(slice(0, n_reference))
    results: list[Result] = []
    refs: dict[float, PsaBlock] = {}
    for case in sorted(cases, key=lambda c: c.backend != "reference"):
        blk = sub if case.backend == "reference" else block
        psa = GridSearchPSA(basis, case.settings(base), device=device)
        seconds, out = timed_run(psa, blk, repeat)
        if case.backend == "reference" and case.search == "full":
            refs[case.p] = out
        ref = refs.get(case.p)
        first = out.take_events(np.arange(min(n_reference, len(out))))
        agree = same_points(first, ref) if ref is not None else None
        err = (float(np.median(np.linalg.norm(errors(out, truth), axis=1)))
               if len(out.hits) else None)
        extra = {}
        if hasattr(psa.backend, "device_bytes"):
            extra["device_basis_bytes"] = psa.backend.device_bytes()
        results.append(Result(case, seconds, len(blk), len(out.hits), agree, err, extra))
        log.info("%s: %.0f searches/s, agreement %s", case.label, results[-1].searches_per_s,
                 agree)
    return results


@numba.njit(**jit_options(parallel=True))
def _roof_terms(targets: np.ndarray, energies: np.ndarray, signals: np.ndarray, mode: int,
                p: float, out: np.ndarray) -> None:
    """Every fom of every hit against every point: no early exit, no candidate lists."""
    pf = np.float32(p)
    for h in numba.prange(targets.shape[0]):
        e = np.float32(energies[h])
        for j in range(signals.shape[0]):
            acc = 0.0
            for c in range(targets.shape[1]):
                acc += channel_sum(targets[h, c], signals[j, c], e, mode, pf)
            out[h, j] = acc


def roofline(psa: GridSearchPSA, n_hits: int = 256, seed: int = 0) -> dict[str, Any]:
    """Throughput of the bare arithmetic on the largest segment: |a − E·b|^p terms/s for p = 2
    and p = 0.3 (numba loop) and the p = 2 GEMM (BLAS sgemm) in GFLOP/s and searches/s."""
    table = max((t for t in psa.tables if t is not None), key=lambda t: t.n_points)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, table.n_points, n_hits)
    e = rng.uniform(150, 1500, n_hits).astype(np.float32)
    targets = np.ascontiguousarray(e[:, None, None] * table.signals[pick]
                                   + rng.normal(0, 5, (n_hits,) + table.signals.shape[1:]
                                                ).astype(np.float32))
    out = np.empty((n_hits, table.n_points))
    terms = n_hits * table.n_points * table.signals.shape[1] * table.signals.shape[2]
    res: dict[str, Any] = {"segment": table.segment, "points": table.n_points,
                           "channels": int(table.signals.shape[1]),
                           "samples": int(table.signals.shape[2]), "hits": n_hits}
    for p in (2.0, 0.3):
        _roof_terms(targets[:2], e[:2], table.signals, p_mode(p), p, out[:2])
        t = time.perf_counter()
        _roof_terms(targets, e, table.signals, p_mode(p), p, out)
        dt = time.perf_counter() - t
        res[f"loop_p{p:g}_terms_per_s"] = terms / dt
        res[f"loop_p{p:g}_searches_per_s"] = n_hits / dt
    a = targets.reshape(n_hits, -1)
    a @ table.flat.T
    t = time.perf_counter()
    for _ in range(3):
        a @ table.flat.T
    dt = (time.perf_counter() - t) / 3
    res["gemm_gflops"] = 2.0 * terms / dt / 1e9
    res["gemm_searches_per_s"] = n_hits / dt
    return res
