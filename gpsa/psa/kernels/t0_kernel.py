"""numba kernel of the sub-sample T0 scan (private; the readable reference is
:meth:`gpsa.psa.refine.Refiner.refine_t0`).

Per event (parallel over events), the model of all its hits on the union of their mask channels
is interpolated once over the padded sample range (window ± ``pad``); each trial shift δ is then
a 4-tap cubic (Catmull-Rom) filter of that model, and its figure of merit stops accumulating as
soon as it exceeds the best so far.
"""

from __future__ import annotations

import numba
import numpy as np

from gpsa._numba import jit_options
from gpsa.psa.kernels.refine_common import channel_fom, cubic_weights, event_model


@numba.njit(**jit_options(parallel=True))
def refine_t0(window, hit_ptr, xyz, segment, energy, mask, index, origin, spacing, seg_of, sig,
              first, pad, steps, n_coarse, t0_range, mode, p, delta):  # pragma: no cover
    """δ per event (``delta`` (n,), 0 for events without hits). Hits sorted by event:
    ``hit_ptr`` (n + 1,). ``steps``: the coarse scan (first ``n_coarse``, around 0) then the fine
    one (around the coarse best), each ordered by |step| (ties prefer the smallest |δ|)."""
    n, n_chan, K = window.shape
    pf = np.float32(p)
    one = np.float32(1.0)
    for ev in numba.prange(n):
        delta[ev] = 0.0
        h0, h1 = hit_ptr[ev], hit_ptr[ev + 1]
        if h1 == h0:
            continue
        uch, model = event_model(h0, h1, xyz, segment, energy, mask, index, origin, spacing,
                                 seg_of, sig, first, pad, K)
        nu = uch.size
        v = np.empty(K, np.float32)
        best = 1e300
        best_d = 0.0
        centre = 0.0
        for q in range(steps.size):
            if q == n_coarse:
                centre = best_d
            d = min(max(centre + steps[q], -t0_range), t0_range)
            b, c0, c1, c2, c3 = cubic_weights(d, first)
            b = b - (first - pad)  # into the model's samples
            fom = 0.0
            done = True
            for u in range(nu):
                row = model[u]
                for k in range(K):  # b - 1 >= 0 and b + K + 1 < width: pad >= t0_range + 2
                    v[k] = (row[b - 1 + k] * c0 + row[b + k] * c1 + row[b + 1 + k] * c2
                            + row[b + 2 + k] * c3)
                fom += channel_fom(window[ev, uch[u]], v, one, mode, pf)
                if fom >= best:
                    done = False
                    break
            if done and fom < best:
                best = fom
                best_d = d
        delta[ev] = best_d
