"""The GPU backend's search arithmetic written with the array module ``xp`` (private).

Used for the AGS coarse stage (every fom against one shared candidate list) on every device,
and for the exact search on numpy when no compiled kernel can run (no CuPy, no simulator). The
candidate signals are gathered and cast to float32 (float16 is storage only); the per-channel
sums are float64, as in the kernels. Work is cut into chunks of at most ~8 M terms so the
temporaries stay near 32 MB. ``ctx.launched`` counts device operations as a CUDA device runs
them: the AGS coarse stage is these ``xp`` operations on a GPU too, so each is counted; the exact
search stands in for one kernel launch (what the GPU path issues), so it counts one.
"""

from __future__ import annotations

from typing import Any

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


def exact_xp(xp: Any, ctx: Any, signals: Any, t: Any, e: Any, w: Any, ptr: Any, idx: Any,
             group: Any, p: float, chunk: int, best: Any, fom: Any) -> None:
    """The exact kernel's result with ``xp``: padded candidate lists, chunked over hits (at
    most ``chunk`` hits, ``gpu_chunk``, per step). Empty lists give best −1 and fom inf."""
    m, n_ch, n_k = t.shape
    if int(idx.size) == 0:  # every list empty
        best[:] = -1
        fom[:] = xp.inf
        ctx.launched(1)
        return
    lens = (ptr[1:] - ptr[:-1])[group]
    width = max(1, int(lens.max())) if m else 1
    step = max(1, min(chunk, CHUNK_TERMS // max(1, width * n_ch * n_k)))
    w64 = w.astype(xp.float64)
    ctx.launched(1)  # the one kernel launch this stands in for
    for a in range(0, m, step):
        b = min(a + step, m)
        pos = ptr[group[a:b]][:, None] + xp.arange(width)[None, :]
        valid = xp.arange(width)[None, :] < lens[a:b, None]
        cand = idx[xp.where(valid, pos, ptr[group[a:b]][:, None])]
        sig = signals[cand].astype(xp.float32)  # (h, L, C, K)
        d = _power(xp, xp.abs(t[a:b, None] - e[a:b, None, None, None] * sig), p)
        f = xp.einsum("hlc,hc->hl", d.sum(axis=3, dtype=xp.float64), w64[a:b])
        f = xp.where(valid, f, xp.inf)
        j = xp.argmin(f, axis=1)
        found = xp.take_along_axis(valid, j[:, None], axis=1)[:, 0]
        best[a:b] = xp.where(found, xp.take_along_axis(cand, j[:, None], axis=1)[:, 0], -1)
        fom[a:b] = xp.take_along_axis(f, j[:, None], axis=1)[:, 0]
