"""A performance MODEL of gpsa's GPU grid search on an H100 (no GPU was used: nothing here is a
measured GPU speed).

For each figure of merit (p = 2, 1, 0.5, 0.3) and search (full, AGS) it writes down, per search
(one hit): the candidates and terms (candidates x channels x samples), the bytes of basis read and
the arithmetic, then the hits/s allowed by each resource of an H100 SXM at ``FRACTION`` (30 %) of
its peak, and the least of them. Launches, copies and host syncs per block are *counted* (not
timed) by running the GPU host code on numpy over the same blocks the tests use, with the counters
of ``gpsa.psa.gpu_context``; a host cost per launch / copy / sync (assumed, below) turns them into
the host-side bound on blocks/s. Assumptions are in :data:`ASSUMPTIONS` and in the JSON.

    python bench/gpu_model.py [--out bench/results/gpu_model.json] [--events 1000]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_info, strict_json  # noqa: E402

log = logging.getLogger("gpu_model")

#: H100 SXM5 (public data sheet figures) and the modelling choices.
H100 = {"name": "H100 SXM5 80GB", "sms": 132, "clock_hz": 1.98e9, "fp32_lanes_per_sm": 128,
        "sfu_per_sm": 16, "hbm_bytes_per_s": 3.35e12, "l2_bytes": 50e6,
        "tf32_dense_flops": 494e12, "pcie_bytes_per_s": 64e9}
FRACTION = 0.30
ASSUMPTIONS = {
    "peak": "H100 SXM5: 132 SMs at 1.98 GHz, 128 FP32 lanes (FMA = 2 FLOP) and 16 SFU/SM, "
            "HBM3 3.35 TB/s, TF32 dense 494 TFLOP/s, PCIe Gen5 x16 64 GB/s; 30 % of each",
    "basis": "AGATA-A 2 mm basis of bench/results/psa.json (47.5k points, its mean terms per "
             "full search); AGS: the coarse lattice (~1/27 of the points) + 2 fine lists of 343 "
             "points (their union taken as 600); no early exit (a CPU measures ~2-3x fewer "
             "terms with it: a bonus, not modelled)",
    "arithmetic": "per term: p = 2 FMA + FMA (4 FLOP); p = 1 FMA + abs + add (3 FP32 ops); "
                  "p = 0.5 + sqrt on the SFU (1 SFU op); p = 0.3: exp2f(p log2f(d)) = 2 SFU ops "
                  "+ 2 FP32 ops, and the kernel's present accurate powf ~ 40 FP32 instructions",
    "p2_gemm": "p = 2 by one float32 GEMM per search call: 2 x candidates x C*K FLOP per hit on "
               "the FP32 FMA units (CuPy's float32 matmul does not use TF32 tensor cores unless "
               "CUPY_TF32=1: not modelled), plus 4 rescored candidates exactly",
    "memory": "one thread block per hit: every hit reads its candidates' basis signals. Two "
              "bounds: 'hbm_every_hit' (each hit's reads come from HBM: pessimistic) and 'hbm' "
              "(a segment's signals, <= 2.9 MB float32, come from HBM once per search call and "
              "then from L2 for the call's other hits; L2 bandwidth is not bounded here: "
              "optimistic). Hits per call are the counted ones (1-interaction blocks)",
    "occupancy": "one thread block (128 threads) per hit and one launch per search call: a call "
                 "of N hits keeps at most N of the 132 SMs busy, so every compute bound is "
                 "scaled by min(1, N / 132) (the same for the p = 2 GEMM of N rows)",
    "end_to_end": "the residual loop waits for each call: host time and device time add, "
                  "expected = 1 / (1 / device bound + 1 / host bound), 1-interaction blocks",
    "host": "per launch 8 us, per copy 10 us, per host sync 15 us of host time, plus 300 us of "
            "Python host code per search call (the low end of the 0.3-0.6 ms issue 11's review "
            "estimated; one call = one host-to-device copy), not overlapped (one search call "
            "after the other, as the residual loop issues them)",
}
HOST_US = {"launches": 8.0, "h2d": 10.0 + 300.0, "d2h": 10.0, "syncs": 15.0}
SEARCHES = {"full": None, "ags": 600}


def basis_geometry(psa_json: Path) -> dict[str, float]:
    """Mean candidates, channels and samples of a full search, from the CPU benchmark's basis."""
    data = json.loads(psa_json.read_text())
    pts = np.asarray(data["basis"]["points_per_segment"], float)
    samples = float(data["basis"]["samples_compared"])
    terms = float(data["efficiency"]["terms_per_full_search"])
    mean_points = float(pts.mean())
    return {"points": float(data["basis"]["points"]), "mean_points_per_segment": mean_points,
            "samples": samples, "channels": terms / (mean_points * samples),
            "terms_per_full_search": terms}


def per_search(p: float, search: str, geo: dict[str, float], basis_bytes: int,
               hits_per_call: float) -> dict[str, Any]:
    """Work of one search and the hits/s each resource allows at FRACTION of peak."""
    ck = geo["channels"] * geo["samples"]
    cands = geo["mean_points_per_segment"] if search == "full" else (
        geo["mean_points_per_segment"] / 27 + SEARCHES["ags"])
    terms = cands * ck
    lanes = H100["sms"] * H100["fp32_lanes_per_sm"] * H100["clock_hz"]
    sfu = H100["sms"] * H100["sfu_per_sm"] * H100["clock_hz"]
    out: dict[str, Any] = {"p": p, "search": search, "candidates": cands, "terms": terms,
                           "basis_bytes_read": terms * basis_bytes,
                           "target_bytes_up": ck * 4 + geo["channels"] * 4 + 16}
    out["hits_per_call"] = hits_per_call
    out["hbm_every_hit_hits_per_s"] = FRACTION * H100["hbm_bytes_per_s"] / out["basis_bytes_read"]
    bounds: dict[str, float] = {
        "hbm": FRACTION * H100["hbm_bytes_per_s"] * hits_per_call / out["basis_bytes_read"],
        "pcie": FRACTION * H100["pcie_bytes_per_s"] / out["target_bytes_up"]}
    if p == 2.0:
        out["flop"] = 2 * terms + 4 * ck * 4
        bounds["fp32_gemm"] = FRACTION * 2 * lanes / (2 * terms)
    elif p == 1.0:
        out["fp32_ops"] = 3 * terms
        bounds["fp32"] = FRACTION * lanes / (3 * terms)
    elif p == 0.5:
        out["fp32_ops"], out["sfu_ops"] = 3 * terms, terms
        bounds["fp32"] = FRACTION * lanes / (3 * terms)
        bounds["sfu"] = FRACTION * sfu / terms
    else:
        out["fp32_ops"], out["sfu_ops"] = 4 * terms, 2 * terms
        bounds["fp32"] = FRACTION * lanes / (4 * terms)
        bounds["sfu"] = FRACTION * sfu / (2 * terms)
        out["fp32_bound_with_accurate_powf"] = (FRACTION * lanes / (40 * terms)
                                                * min(1.0, hits_per_call / H100["sms"]))
    busy = min(1.0, hits_per_call / H100["sms"])
    out["fraction_of_sms_busy"] = busy
    for name in ("fp32", "sfu", "fp32_gemm"):
        if name in bounds:
            bounds[name] *= busy
    out["bounds_hits_per_s"] = bounds
    out["limit"] = min(bounds, key=bounds.__getitem__)
    out["model_hits_per_s"] = bounds[out["limit"]]
    return out


def counted_per_block(events: int) -> dict[str, Any]:
    """Launches / copies / syncs per block of the GPU host code (numpy path, counted)."""
    from gpsa.bench.gpu_check import make_blocks, toy_basis
    from gpsa.psa import GridSearchPSA, PsaSettings

    basis = toy_basis()
    rows: dict[str, Any] = {}
    for inter in (1, 3):
        block = make_blocks(events, 1, inter)[0]
        for p, search in ((2.0, "full"), (1.0, "full"), (0.3, "full"), (0.3, "ags")):
            s = PsaSettings(samples=30, p=p, search=search, backend="gpu", refine_grid=False,
                            refine_t0=False)
            psa = GridSearchPSA(basis, s).prepare()
            psa.backend.counters.reset()  # type: ignore[attr-defined]
            hits = len(psa.run(block).hits)
            c = psa.backend.counters.snapshot()  # type: ignore[attr-defined]
            host_s = sum(c[k] * HOST_US[k] for k in HOST_US) * 1e-6
            rows[f"{inter}-int p={p:g} {search}"] = {
                **c, "hits": hits, "host_seconds_per_block_model": host_s,
                "host_bound_hits_per_s_model": hits / host_s if host_s else None}
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/gpu_model.json", help="JSON result file")
    ap.add_argument("--psa-json", default="bench/results/psa.json",
                    help="the CPU benchmark's result (basis geometry)")
    ap.add_argument("--events", type=int, default=1000, help="events per counted block")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    geo = basis_geometry(Path(args.psa_json))
    counts = counted_per_block(args.events)
    for name, c in counts.items():
        log.info("%-22s launches %5d  h2d %4d  d2h %4d  syncs %4d  -> host-bound model %8.0f "
                 "hits/s", name, c["launches"], c["h2d"], c["d2h"], c["syncs"],
                 c["host_bound_hits_per_s_model"] or 0)
    model = {}
    for dtype, nbytes in (("float32", 4), ("float16", 2)):
        for p in (2.0, 1.0, 0.5, 0.3):
            for search in SEARCHES:
                c = counts[f"1-int p={p:g} {search}"] if f"1-int p={p:g} {search}" in counts \
                    else counts[f"1-int p=1 {search}" if search == "full" else "1-int p=0.3 ags"]
                m = per_search(p, search, geo, nbytes, c["hits"] / max(1, c["h2d"]))
                host = c["host_bound_hits_per_s_model"] or float("inf")
                m["host_bound_hits_per_s"] = host
                m["expected_end_to_end_hits_per_s"] = 1.0 / (1.0 / m["model_hits_per_s"]
                                                             + 1.0 / host)
                m["end_to_end_limit"] = m["limit"] if m["model_hits_per_s"] <= host else "host"
                model[f"{dtype} p={p:g} {search}"] = m
                log.info("%-22s %7.0f terms  device limit %-9s %9.0f hits/s (every hit from "
                         "HBM %8.0f); with host %9.0f hits/s (%s)", f"{dtype} p={p:g} {search}",
                         m["terms"], m["limit"], m["model_hits_per_s"],
                         m["hbm_every_hit_hits_per_s"], m["expected_end_to_end_hits_per_s"],
                         m["end_to_end_limit"])
    result = {"benchmark": "gpu_model", "kind": "MODEL (no GPU used; not a measured speed)",
              "machine": machine_info(), "gpu_modelled": H100, "fraction_of_peak": FRACTION,
              "assumptions": ASSUMPTIONS, "host_cost_us": HOST_US, "basis": geo,
              "per_search": model, "counted_per_block": counts,
              "command": " ".join(["python bench/gpu_model.py",
                                   *(sys.argv[1:] if argv is None else argv)])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(strict_json(result), indent=1, allow_nan=False) + "\n")
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
