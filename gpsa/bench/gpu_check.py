"""``gpsa check gpu``: every GPU variant against the numba CPU backend on the same events.

A *variant* is (kernel, basis storage dtype, p, search, interactions per event, refinement):
kernels ``numba`` (with its ``tiled`` twin, below) and ``raw`` (the CUDA C twin: only where CuPy
runs it), float32 and float16 basis storage, p = 2 / 1 / 0.5 / 0.3, search ``full`` / ``ags`` /
``shortlist`` (K = ``SHORTLIST``, for p != 2: p = 2 always ranks by the matrix product), 1 and 3
interactions, and the refinement (sub-grid and T0, as the engine applies it on the gpu backend:
on the device under CuPy or the simulator, :mod:`gpsa.psa.refine_gpu`; the numba refiner on the
numpy host path) for the p = 1 full variants. The numba CPU backend runs the same
settings with ``rank = 0`` (the GPU ranks in full dimension), and its results are the reference.

A variant passes when the fraction of hits at the same position is at least ``min_agree`` and the
foms of those hits differ by at most ``rel_fom`` relative, for every hit with float32 storage
(the largest difference) and for 99 % of them with float16 storage (the 99th percentile:
:data:`TOLERANCES`). float16 storage rounds the basis (2^-11 relative), so its foms and near-ties
differ, most where a fom is small; the residual loop of 3-interaction events carries a different
choice on to the event's other hits. Measured on the numpy host path (full matrix, 400-event
blocks): float16 agreement >= 0.992 (1 interaction) and >= 0.977 (3), float32 1.0000.

Every numba variant that takes the batched search (not a p != 2 shortlist) is also run with the
tiled kernel (``gpu_kernel = "tiled"``, :mod:`gpsa.psa.gpu_tiled`) on the same blocks, against
the same CPU results: on a CUDA device and under the simulator for each such variant, on the
numpy host path only for the quick ones (there "tiled" runs the numba variant's ``xp`` code, so
more would only double the time). Such a row is labelled ``numba+tiled``, passes when both
kernels pass, and reports the worse agreement and fom difference of the two (each kernel's own
under ``by_kernel``; the counters are the numba kernel's).

Per block the GPU host code's counters (launches, host-to-device and device-to-host copies, host
syncs: :mod:`gpsa.psa.gpu_context`) are averaged and reported. Without CuPy the GPU backend runs
on numpy (the "numpy host path": the exact search is the ``xp`` twin of the kernel); the CUDA
simulator part (:mod:`gpsa.bench.gpu_check_sim`) runs the numba.cuda kernel itself on fewer
events.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from gpsa.basis.model import Basis
from gpsa.block import CrystalBlock, PsaBlock
from gpsa.device import Device
from gpsa.psa import GridSearchPSA, PsaSettings

log = logging.getLogger(__name__)

P_VALUES = (2.0, 1.0, 0.5, 0.3)
SEARCHES = ("full", "ags", "shortlist")
DTYPES = ("float32", "float16")
SHORTLIST = 16
SAMPLES = 30
#: (basis dtype, interactions) -> (min fraction of hits at the same position, the statistic of
#: the relative fom difference of those hits that is bounded, its bound).
TOLERANCES: dict[tuple[str, int], tuple[float, str, float]] = {
    ("float32", 1): (0.99, "max", 1e-4), ("float32", 3): (0.97, "max", 1e-4),
    ("float16", 1): (0.98, "p99", 3e-2), ("float16", 3): (0.95, "p99", 3e-2)}


@dataclass(frozen=True)
class Variant:
    kernel: str
    basis_dtype: str
    p: float
    search: str
    interactions: int
    refine: bool

    @property
    def label(self) -> str:
        return (f"{self.kernel} {self.basis_dtype} p={self.p:g} {self.search} "
                f"{self.interactions}-int{' refined' if self.refine else ''}")

    def settings(self, backend: str) -> PsaSettings:
        s = PsaSettings(samples=SAMPLES, p=self.p, search="ags" if self.search == "ags" else "full",
                        shortlist=SHORTLIST if self.search == "shortlist" else 0, rank=0,
                        backend=backend, refine_grid=self.refine, refine_t0=self.refine)
        if backend == "gpu":
            s = s.replace(gpu_basis_dtype=self.basis_dtype, gpu_kernel=self.kernel)
        return s

    def cpu_key(self) -> tuple[float, str, int, bool]:
        """The CPU results do not depend on the GPU kernel or storage dtype."""
        return (self.p, self.search, self.interactions, self.refine)


def all_variants(kernels: Iterable[str]) -> list[Variant]:
    """The full matrix (module docstring)."""
    return [Variant(k, d, p, s, n, p == 1.0 and s == "full")
            for k in kernels for d in DTYPES for p in P_VALUES for s in SEARCHES
            for n in (1, 3) if not (p == 2.0 and s == "shortlist")]


def quick_variants(kernels: Iterable[str]) -> list[Variant]:
    """A subset covering every value of every axis at least once."""
    rows = [("float32", 2.0, "full", 1, False), ("float16", 1.0, "full", 3, True),
            ("float32", 0.5, "ags", 1, False), ("float32", 0.3, "shortlist", 3, False),
            ("float16", 0.3, "ags", 3, False), ("float32", 1.0, "full", 1, True)]
    return [Variant(k, *row) for k in kernels for row in rows]


def make_blocks(n_events: int, n_blocks: int, interactions: int,
                seed: int = 0) -> list[CrystalBlock]:
    """Blocks of simulated events on gpsa's small toy crystal (gpsa.bench.toy)."""
    from gpsa.bench.toy import ToyCrystal, simulate_events

    crystal = ToyCrystal.small()
    return [simulate_events(crystal, n_events, n_samples=60, t0=20.0, noise=0.01,
                            interactions=interactions, seed=seed + 101 * b + interactions)[0]
            for b in range(n_blocks)]


def toy_basis() -> Basis:
    """The small toy crystal's basis (2 mm grid, ~2,300 points), made in a second or two."""
    from gpsa.bench.toy import ToyCrystal
    from gpsa.bench.toy import toy_basis as make

    return make(ToyCrystal.small(), grid_mm=2.0, n_samples=40, t0_sample=5)


def compare(gpu: list[PsaBlock], cpu: list[PsaBlock]) -> tuple[int, float, dict[str, float]]:
    """(hits, fraction at the same position, {"max", "p99"} relative fom difference of those)."""
    g = [b.hits for b in gpu]
    c = [b.hits for b in cpu]
    n = sum(len(h) for h in g)
    if n != sum(len(h) for h in c) or n == 0:
        return n, 0.0, {"max": float("inf"), "p99": float("inf")}
    same = np.concatenate([(a.x == b.x) & (a.y == b.y) & (a.z == b.z)
                           for a, b in zip(g, c, strict=True)])
    fg = np.concatenate([a.fom for a in g])[same].astype(np.float64)
    fc = np.concatenate([b.fom for b in c])[same].astype(np.float64)
    rel = np.abs(fg - fc) / np.maximum(np.abs(fc), 1e-12)
    if rel.size == 0:
        return n, float(same.mean()), {"max": float("inf"), "p99": float("inf")}
    return n, float(same.mean()), {"max": float(rel.max()),
                                   "p99": float(np.quantile(rel, 0.99))}


def _run_gpu(v: Variant, basis: Basis, blocks: list[CrystalBlock], device: Device,
             block_threads: int | None) -> tuple[list[PsaBlock], dict[str, float]]:
    """The variant on the GPU backend: results and mean counters per block."""
    gpu = GridSearchPSA(basis, v.settings("gpu"), device=device).prepare()
    backend: Any = gpu.backend
    if block_threads is not None:
        backend.block_threads = block_threads
    out, per_block = [], []
    for block in blocks:
        backend.counters.reset()
        out.append(gpu.run(block))
        per_block.append(backend.counters.snapshot())
    return out, {k: float(np.mean([c[k] for c in per_block])) for k in per_block[0]}


def runs_tiled_twin(v: Variant, device: Device) -> bool:
    """Whether a numba variant is also run with the tiled kernel (module docstring): when it
    takes the batched path (not a p != 2 shortlist), on a CUDA device and under the simulator;
    on the numpy host path (where "tiled" runs the numba variant's own ``xp`` code) only for the
    quick variants."""
    if v.kernel != "numba" or v.search == "shortlist":
        return False
    kernel_runs = device.is_cuda or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    return kernel_runs or v in quick_variants([v.kernel])


def run_variant(v: Variant, basis: Basis, blocks: list[CrystalBlock], device: Device,
                cpu_cache: dict[Any, list[PsaBlock]], block_threads: int | None = None,
                ) -> dict[str, Any]:
    """Run one variant on the GPU backend (and its tiled twin, :func:`runs_tiled_twin`) and
    compare with the (cached) numba CPU results; the row's statistics are the worse of the
    two kernels, each kernel's own under ``by_kernel``."""
    key = v.cpu_key()
    if key not in cpu_cache:
        cpu = GridSearchPSA(basis, v.settings("numba"))
        cpu_cache[key] = [cpu.run(b) for b in blocks]
    min_agree, stat, bound = TOLERANCES[(v.basis_dtype, v.interactions)]
    kernels = [v] + ([replace(v, kernel="tiled")] if runs_tiled_twin(v, device) else [])
    by_kernel: dict[str, dict[str, Any]] = {}
    for k in kernels:
        out, per_block = _run_gpu(k, basis, blocks, device, block_threads)
        hits, agree, rel = compare(out, cpu_cache[key])
        by_kernel[k.kernel] = {"hits": hits, "agreement": agree, "max_rel_fom": rel["max"],
                               "p99_rel_fom": rel["p99"], "per_block": per_block,
                               "ok": bool(agree >= min_agree and rel[stat] <= bound)}
    rows = list(by_kernel.values())
    label = v.label if len(kernels) == 1 else v.label.replace("numba", "numba+tiled", 1)
    return {**asdict(v), "label": label, "hits": rows[0]["hits"],
            "agreement": min(r["agreement"] for r in rows),
            "max_rel_fom": max(r["max_rel_fom"] for r in rows),
            "p99_rel_fom": max(r["p99_rel_fom"] for r in rows), "min_agree": min_agree,
            "rel_fom_statistic": stat, "rel_fom_allowed": bound,
            "ok": all(r["ok"] for r in rows) and len({r["hits"] for r in rows}) == 1,
            "per_block": rows[0]["per_block"], "by_kernel": by_kernel}


def time_stream(basis: Basis, blocks: list[CrystalBlock], device: Device) -> dict[str, Any]:
    """End-to-end hits/s of the default settings (p = 1, full, refined) on the same blocks,
    numba CPU vs the GPU backend; the device is synchronised before each clock stops. One block
    is run first on each, untimed (compilation, resident tables)."""
    result: dict[str, Any] = {}
    for name in ("numba", "gpu"):
        psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, backend=name), device=device
                            if name == "gpu" else "cpu").prepare()
        psa.run(blocks[0])
        sync = getattr(psa.backend, "ctx", None)
        t = time.perf_counter()
        hits = sum(len(psa.run(b).hits) for b in blocks)
        if sync is not None:
            sync.synchronize()
        dt = time.perf_counter() - t
        result[name] = {"hits": hits, "seconds": dt, "hits_per_s": hits / dt if dt > 0 else None}
    return result
