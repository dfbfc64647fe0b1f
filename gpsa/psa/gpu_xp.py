"""The GPU backend's search arithmetic written with the array module ``xp`` (private).

``all_foms_xp`` is the per-segment AGS coarse stage (every fom against one shared candidate
list) on every device. ``exact_xp`` and ``foms_xp`` stand in for the numba.cuda kernels on numpy
when no compiled kernel can run (no CuPy, no simulator); they read the same concatenated layout
(:mod:`gpsa.psa.kernels.cuda_kernels`). The
candidate signals are gathered and cast to float32 (float16 is storage only); the per-channel
sums are float64, as in the kernels. Work is cut into chunks of at most ~8 M terms so the
temporaries stay near 32 MB. ``ctx.launched`` counts device operations as a CUDA device runs
them: the AGS coarse stage is these ``xp`` operations on a GPU too, so each is counted; the exact
search stands in for one kernel launch (what the GPU path issues), so it counts one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Terms (hits x candidates x channels x samples) per chunk of the ``xp`` arithmetic.
CHUNK_TERMS = 1 << 23


def _power(xp: Any, d: Any, p: float) -> Any:
    if p == 2.0:
        return d * d
    if p == 1.0:
        return d
    if p == 0.5:
        return xp.sqrt(d)
    return d ** xp.float32(p)


def all_foms_xp(xp: Any, ctx: Any, signals: Any, t: Any, e: Any, w: Any, cands: Any, p: float,
                out: Any) -> None:
    """``out[h, l]`` = Σ_c w[h, c] Σ_k |t[h, c, k] − e[h]·signals[cands[l], c, k]|^p."""
    sig = signals[cands].astype(xp.float32)  # (L, C, K)
    w64 = w.astype(xp.float64)
    ctx.launched(2)
    step = max(1, CHUNK_TERMS // max(1, int(sig.size)))
    for a in range(0, int(t.shape[0]), step):
        d = xp.abs(t[a:a + step, None] - e[a:a + step, None, None, None] * sig[None])
        d = _power(xp, d, p)
        out[a:a + step] = xp.einsum("hlc,hc->hl", d.sum(axis=3, dtype=xp.float64),
                                    w64[a:a + step])
        ctx.launched(6)  # product, difference, abs, power, sum, weighted sum into out


def scanned_lists(xp: Any, info: Any, sel: Any, ptr: Any, idx: Any,
                  group_lead: Any) -> tuple[Any, Any]:
    """(m, W) candidates each hit scans in the concatenated layout (the kernel's order: the lead
    point when ``n_sel > 1``, then groups ``base + step·sel[h, i]``, ``i < n_sel``) and (m, W)
    validity."""
    m = int(info.shape[1])
    base, step, nsel = info[1], info[2], info[3]
    cols = min(int(sel.shape[1]), int(nsel.max()) if m else 0)
    groups = [xp.where(i < nsel, base + step * sel[:, i], base) for i in range(cols)]
    lead = xp.full(m, -1, dtype=xp.int64)
    if groups:  # read only where the kernel reads it (n_sel > 1)
        several = nsel > 1
        lead[several] = group_lead[groups[0][several]]
    lens = [xp.where(i < nsel, ptr[g + 1] - ptr[g], 0) for i, g in enumerate(groups)]
    total = (lead >= 0).astype(xp.int64) + (sum(lens) if lens else 0)
    width = max(1, int(total.max())) if m else 1
    col = xp.arange(width)[None, :]
    cand = xp.where(col == 0, lead[:, None], 0)
    start = (lead >= 0).astype(xp.int64)
    top = max(0, int(idx.size) - 1)
    for g, n in zip(groups, lens, strict=True):
        within = col - start[:, None]
        inside = (within >= 0) & (within < n[:, None])
        pos = xp.clip(ptr[g][:, None] + within, 0, top)
        cand = xp.where(inside, idx[pos] if int(idx.size) else 0, cand)
        start = start + n
    return cand, col < total[:, None]


def cat_foms(xp: Any, signals: Any, sig_off: Any, tab_nch: Any, t: Any, scale: float, e: Any,
             w: Any, tab: Any, cand: Any, valid: Any, p: float, chunk: int) -> Any:
    """(m, W) float64 foms of each hit against its candidates in the concatenated layout (flat
    ``signals``, table ``tab[h]`` at ``sig_off``; channels beyond ``tab_nch`` have weight 0);
    inf where not ``valid``. Chunked over hits (at most ``chunk`` per step)."""
    m, c_max, n_k = (int(x) for x in t.shape)
    width = int(cand.shape[1])
    out = xp.full((m, width), xp.inf)
    step = max(1, min(chunk, CHUNK_TERMS // max(1, width * c_max * n_k)))
    ks = xp.arange(n_k)
    for a in range(0, m, step):
        b = min(a + step, m)
        nch = tab_nch[tab[a:b]]
        base = sig_off[tab[a:b]][:, None] + cand[a:b] * (nch * n_k)[:, None]
        ch = xp.minimum(xp.arange(c_max)[None, :], nch[:, None] - 1) * n_k
        flat = base[:, :, None, None] + ch[:, None, :, None] + ks
        sig = signals[flat].astype(xp.float32)  # (h, W, C_max, K)
        tt = t[a:b].astype(xp.float32) * xp.float32(scale)
        d = _power(xp, xp.abs(tt[:, None] - e[a:b, None, None, None] * sig), p)
        f = xp.einsum("hlc,hc->hl", d.sum(axis=3, dtype=xp.float64), w[a:b].astype(xp.float64))
        out[a:b] = xp.where(valid[a:b], f, xp.inf)
    return out


def exact_xp(xp: Any, ctx: Any, lay: dict[str, Any], t: Any, scale: float, e: Any, w: Any,
             info: Any, sel: Any, p: float, chunk: int, best: Any, fom: Any) -> None:
    """The search kernel's result with ``xp`` in the concatenated layout ``lay`` (signals,
    sig_off, tab_nch, ptr, idx, lead): every scanned fom, then the first least one. Empty lists
    give best −1 and fom inf. Counted as the one kernel launch it stands in for."""
    ctx.launched(1)
    if int(t.shape[0]) == 0:
        return
    cand, valid = scanned_lists(xp, info, sel, lay["ptr"], lay["idx"], lay["lead"])
    f = cat_foms(xp, lay["signals"], lay["sig_off"], lay["tab_nch"], t, scale, e, w, info[0],
                 xp.where(valid, cand, 0), valid, p, chunk)
    j = xp.argmin(f, axis=1)
    found = xp.take_along_axis(valid, j[:, None], axis=1)[:, 0]
    best[:] = xp.where(found, xp.take_along_axis(cand, j[:, None], axis=1)[:, 0], -1)
    fom[:] = xp.where(found, xp.take_along_axis(f, j[:, None], axis=1)[:, 0], xp.inf)


def foms_xp(xp: Any, ctx: Any, lay: dict[str, Any], t: Any, scale: float, e: Any, w: Any,
            info: Any, sel: Any, p: float, chunk: int, out: Any) -> None:
    """The fom kernel's result with ``xp``: every fom of each hit's first group into ``out``
    (m, W), inf beyond the list. Counted as one launch."""
    ctx.launched(1)
    m, width = (int(x) for x in out.shape)
    if m == 0:
        return
    g = info[1] + info[2] * sel[:, 0]
    ptr, idx = lay["ptr"], lay["idx"]
    col = xp.arange(width)[None, :]
    valid = col < (ptr[g + 1] - ptr[g])[:, None]
    cand = idx[xp.clip(ptr[g][:, None] + col, 0, max(0, int(idx.size) - 1))]
    out[...] = cat_foms(xp, lay["signals"], lay["sig_off"], lay["tab_nch"], t, scale, e, w,
                        info[0], xp.where(valid, cand, 0), valid, p, chunk)


def shortlists_xp(xp: Any, ctx: Any, res: dict[str, Any], t: Any, e: Any, w: Any,
                  cand_ptr: np.ndarray, d_idx: Any, groups: list[tuple[int, np.ndarray]],
                  s_ptr: Any, by_group: Any, total: int, keep: int) -> tuple[Any, Any]:
    """Per-hit CSR lists (``s_ptr``, returned idx) of the ``keep`` best candidates by the
    p = 2 matrix product. The host arrays give only sizes; every array the device reads is
    resident or came with the packed upload."""
    m, n_ch, n_k = t.shape
    idx = xp.empty(total, dtype=xp.int64)
    a = (t * w[:, :, None]).reshape(m, n_ch * n_k)
    flat_all = res["signals"].reshape(res["signals"].shape[0], -1)
    ctx.launched(2)  # idx allocation, weighted targets (reshapes are views)
    start = 0
    for g, hits in groups:
        lo, hi = int(cand_ptr[g]), int(cand_ptr[g + 1])
        cands = d_idx[lo:hi]
        k = min(keep, hi - lo)
        h = by_group[start:start + hits.size]
        start += hits.size
        # float32 product and output (a float16 product overflows above 65504 keV^2)
        flat = flat_all[cands].astype(xp.float32)
        dot = xp.matmul(a[h], flat.T)
        eh = e[h][:, None]
        n2 = xp.matmul(w[h], res["norm2"][cands].T)
        score = eh * eh * n2 - 2.0 * eh * dot
        ctx.launched(8)  # gather+cast, gather a, GEMM, gather e, gather norm2, GEMM, score x2
        top = (xp.argpartition(score, k - 1, axis=1)[:, :k] if k < hi - lo
               else xp.broadcast_to(xp.arange(k), (hits.size, k)))
        top = xp.take_along_axis(
            top, xp.argsort(xp.take_along_axis(score, top, axis=1), axis=1), axis=1)
        idx[s_ptr[h][:, None] + xp.arange(k)] = cands[top]
        ctx.launched(8)  # select, gather, argsort, gather, gather s_ptr, add, gather, scatter
    return s_ptr, idx
