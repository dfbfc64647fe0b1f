"""The PSA benchmark run behind ``gpsa bench`` and ``bench/bench_psa.py``: builds the basis and the
events, runs :func:`gpsa.bench.benchmark.speed_suite`, the roofline and (optionally) the accuracy
table, and derives the headline ratios; then every other registered PSA algorithm (plugins such as
gpsa-mlpsa, :mod:`gpsa.bench.algorithms`) on the same events, beside the grid search. Returns
one JSON-ready dict."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from gpsa.bench.accuracy import accuracy_table
from gpsa.bench.benchmark import Case, Result, roofline, speed_suite
from gpsa.bench.sources import TRACE_T0, get_source
from gpsa.device import Device
from gpsa.psa.engine import GridSearchPSA
from gpsa.psa.settings import PsaSettings

log = logging.getLogger(__name__)


def default_cases(device: Device) -> list[Case]:
    cases = [Case("reference", s, p) for s in ("full", "ags") for p in (2.0, 0.3)]
    cases += [Case("numba", s, p) for s in ("full", "ags") for p in (2.0, 0.3)]
    cases += [Case("numba", "full", 2.0, rank=32), Case("numba", "full", 2.0, rank=0)]
    cases += [Case("numba", "full", 0.3, k, rank=32) for k in (32, 64, 96)]
    cases += [Case("numba", "full", 2.0, rank=32, threads=1),
              Case("numba", "full", 0.3, 96, rank=32, threads=1),
              Case("numba", "ags", 0.3, threads=1)]
    if device.is_cuda:
        cases += [Case("gpu", "full", 2.0), Case("gpu", "full", 0.3), Case("gpu", "ags", 0.3),
                  Case("gpu", "full", 0.3, 32)]
    return cases


def _row(r: Result) -> dict[str, Any]:
    return {"label": r.case.label, "backend": r.case.backend, "search": r.case.search,
            "p": r.case.p, "shortlist": r.case.shortlist,
            "rank": r.case.rank if r.case.backend == "numba" else None,
            "threads": r.case.threads or None, "seconds": r.seconds, "events": r.n_events,
            "hits": r.n_hits, "searches_per_s": r.searches_per_s,
            "events_per_s": r.events_per_s, "agreement": r.agreement,
            "median_error_mm": r.median_error_mm, **r.extra}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Headline ratios from the speed rows."""
    def get(backend: str, search: str, p: float) -> dict[str, Any] | None:
        """The default-settings row (rank 64 for numba, default threads, no shortlist)."""
        for r in rows:
            if ((r["backend"], r["search"], r["p"], r["shortlist"], r["threads"])
                    == (backend, search, p, 0, None) and r["rank"] in (None, 64)):
                return r
        return None

    out: dict[str, Any] = {}
    for p in (2.0, 0.3):
        ref = get("reference", "full", p)
        if ref is None:
            continue
        for r in rows:
            if r["backend"] == "reference" or r["p"] != p:
                continue
            key = r["label"]
            out[f"speedup vs reference full: {key}"] = r["searches_per_s"] / ref["searches_per_s"]
            out[f"agreement %: {key}"] = (None if r["agreement"] is None
                                          else 100 * r["agreement"])
    for backend in ("numba", "reference", "gpu"):
        for p in (2.0, 0.3):
            full, ags = get(backend, "full", p), get(backend, "ags", p)
            if full and ags:
                tag = f"{backend} p={p:g}"
                out[f"AGS/full speed: {tag}"] = ags["searches_per_s"] / full["searches_per_s"]
                out[f"AGS/full median error: {tag}"] = (ags["median_error_mm"]
                                                        / full["median_error_mm"])
    return out


def efficiency(rows: list[dict[str, Any]], roof: dict[str, Any], terms: float
               ) -> dict[str, Any]:
    """Exhaustive searches as a fraction of the roofline of the same arithmetic: |a − E·b|^p
    terms/s of the bare numba loop, and GEMM flop/s (2 flops per term) for the p = 2 product."""
    out: dict[str, Any] = {"terms_per_full_search": terms}
    for r in rows:
        if r["backend"] != "numba" or r["search"] != "full" or r["shortlist"] or r["threads"]:
            continue
        rate = r["searches_per_s"] * terms
        if r["p"] == 0.3:
            out["numba exact p=0.3: terms/s"] = rate
            out["numba exact p=0.3: fraction of loop roofline"] = rate / roof[
                "loop_p0.3_terms_per_s"]
        elif r["p"] == 2.0 and r["rank"] == 0:
            out["numba p=2 full-dimension GEMM: effective GFLOP/s"] = 2 * rate / 1e9
            out["numba p=2 full-dimension GEMM: fraction of sgemm roofline"] = (
                2 * rate / 1e9 / roof["gemm_gflops"])
        elif r["p"] == 2.0:
            out[f"numba p=2 rank={r['rank']}: equivalent GFLOP/s of a full GEMM"] = 2 * rate / 1e9
    return out


def run_all(*, device: Device, basis_file: str | None = None, source: str | None = None,
            events: int = 4000, reference_events: int = 1000, noise: float = 0.01,
            samples: int = 40, accuracy: bool = False, accuracy_events: int = 600,
            cases: list[Case] | None = None, repeat: int = 3,
            algorithms: list[str] | None = None) -> dict[str, Any]:
    """Everything ``gpsa bench`` reports (see the module docstring).

    :param algorithms: registered PSA algorithms run beside the grid search (key
        ``"algorithms"``: the grid-search baseline row, then one row each); None = every
        registered algorithm other than ``grid-search``, ``[]`` = none.
    """
    from gpsa.bench.algorithms import algorithm_rows, select_algorithms

    names = select_algorithms(algorithms)  # unknown name: ConfigError before any work
    src = get_source(source, basis_file)
    basis = src.basis
    block, truth = src.make_events(events, noise, 1)
    samples = min(samples, basis.n_samples - basis.t0_sample)
    base = PsaSettings(samples=samples, default_t0=TRACE_T0)
    rows = [_row(r) for r in speed_suite(basis, block, truth, cases or default_cases(device),
                                         base=base, n_reference=min(reference_events, events),
                                         device=device, repeat=repeat)]
    psa = GridSearchPSA(basis, base)
    roof = roofline(psa)
    terms = np.array([t.n_points * t.signals.shape[1] * t.signals.shape[2] if t else 0
                      for t in psa.tables], float)[truth.segment].mean()
    result: dict[str, Any] = {
        "basis": {"source": src.description, "points": len(basis), "samples_compared": samples,
                  "points_per_segment": np.bincount(basis.segment, minlength=36).tolist()},
        "events": {"n": len(block), "reference_n": min(reference_events, events),
                   "noise": noise, "interactions_per_event": 1},
        "timing": f"best of {repeat} runs per case, after setup and a warm-up run",
        "device": str(device),
        "speed": rows,
        "summary": summary(rows),
        "roofline": roof,
        "efficiency": efficiency(rows, roof, terms),
    }
    if not device.is_cuda:
        result["gpu"] = ("not measured: no CUDA device (the GPU host path and kernels are "
                         "verified against the reference on numpy / the CUDA simulator in "
                         "tests/psa)")
    if names:
        result["algorithms"] = algorithm_rows(basis, block, truth, names, base=base,
                                              device=device, repeat=repeat, speed_rows=rows)
    if accuracy:
        result["accuracy"] = accuracy_table(
            basis, lambda nz: src.make_events(accuracy_events, nz, 7),
            base=base.replace(backend="numba"))
        result["accuracy_events"] = (
            "events not made from the searched basis (continuous positions, fractional T0)"
            if src.independent_events else "events interpolated from the searched basis file")
    return result
