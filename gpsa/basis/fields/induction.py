"""Induced charges on the 37 electrodes by the Shockley–Ramo theorem.

A charge ``q`` at ``r`` induces ``Q_k = −q·φ_k(r)`` on electrode ``k`` (``φ_k`` its weighting
potential). For the pair created at ``r₀`` (hole ``+e`` at ``r_h(t)``, electron ``−e`` at
``r_e(t)``) the induced charge, in units of ``e`` and with gpsa's positive polarity, is::

    segment k:  S_k(t) = φ_k(r_h(t)) − φ_k(r_e(t))
    core:       S_c(t) = φ_c(r_e(t)) − φ_c(r_h(t))

Both start at 0. When the hole reaches segment ``s`` and the electron the core, ``S_s → 1``,
every other segment → 0 (a transient signal only) and the core → 1: the normalisation of
:class:`gpsa.basis.model.Basis`. As ``Σ_k φ_k = 1``, ``Σ_segments S_k = S_c`` at all times
(charge conservation). Once a carrier is collected its weighting potentials are taken exactly
(1 on the electrode reached, 0 elsewhere), so the final values do not depend on how well the
interpolation resolves the surface.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from gpsa.basis.fields._jit import JIT, PJIT
from gpsa.basis.fields.interp import blend, locate


@JIT
def _potentials(wpot: np.ndarray, origin: np.ndarray, inv_h: float, x: np.ndarray, t: float,
                t_end: float, label: int, out: np.ndarray) -> None:  # pragma: no cover - numba
    if label >= 0 and t >= t_end:
        out[:] = 0.0
        out[label] = 1.0
        return
    i, j, k, fx, fy, fz = locate(origin, inv_h, wpot.shape, x[0], x[1], x[2])
    blend(wpot, i, j, k, fx, fy, fz, out)


@PJIT
def induce_all(path_h: np.ndarray, path_e: np.ndarray, t_h: np.ndarray, t_e: np.ndarray,
               lab_h: np.ndarray, lab_e: np.ndarray, wpot: np.ndarray, origin: np.ndarray,
               inv_h: float, dt: float, core: int, offset: int, out: np.ndarray
               ) -> None:  # pragma: no cover - numba
    """``out[p, k, offset + s]`` = induced charge on electrode ``k`` at ``t = s·dt``."""
    n_el = wpot.shape[3]
    n_keep = path_h.shape[1]
    for p in prange(path_h.shape[0]):
        wh = np.empty(n_el, dtype=wpot.dtype)
        we = np.empty(n_el, dtype=wpot.dtype)
        for s in range(n_keep):
            t = s * dt
            _potentials(wpot, origin, inv_h, path_h[p, s], t, t_h[p], lab_h[p], wh)
            _potentials(wpot, origin, inv_h, path_e[p, s], t, t_e[p], lab_e[p], we)
            for k in range(n_el):
                out[p, k, offset + s] = wh[k] - we[k]
            out[p, core, offset + s] = we[core] - wh[core]
            if lab_h[p] >= 0 and lab_e[p] >= 0 and t >= t_h[p] and t >= t_e[p]:
                for s2 in range(s + 1, n_keep):
                    for k in range(n_el):
                        out[p, k, offset + s2] = out[p, k, offset + s]
                break


def induce_reference(path_h: np.ndarray, path_e: np.ndarray, t_h: np.ndarray, t_e: np.ndarray,
                     lab_h: np.ndarray, lab_e: np.ndarray, wpot: np.ndarray,
                     origin: np.ndarray, spacing: float, dt: float, core: int) -> np.ndarray:
    """Pure-numpy twin of :func:`induce_all` (``offset = 0``), ``(n, n_el, n_keep)``."""
    from gpsa.basis.fields.interp import trilinear_reference

    n, n_keep = path_h.shape[:2]
    n_el = wpot.shape[3]
    times = np.arange(n_keep) * dt

    def potentials(path: np.ndarray, t_end: np.ndarray, lab: np.ndarray) -> np.ndarray:
        phi = trilinear_reference(wpot, origin, spacing, path.reshape(-1, 3)).reshape(
            n, n_keep, n_el).astype(np.float64)
        done = (lab[:, None] >= 0) & (times[None, :] >= t_end[:, None])
        delta = np.eye(n_el)[np.clip(lab, 0, None)]
        return np.where(done[..., None], delta[:, None, :], phi)

    wh, we = potentials(path_h, t_h, lab_h), potentials(path_e, t_e, lab_e)
    sig = wh - we
    sig[..., core] = we[..., core] - wh[..., core]
    return np.moveaxis(sig, 2, 1)
