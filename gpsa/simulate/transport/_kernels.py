"""Numba kernel of the transport: every primary gamma's history, in parallel over gammas.

Per photon: find the nearest germanium piece along its ray (:func:`._intersect.next_crystal`);
draw a path length from the total attenuation at its energy; if it ends beyond the piece, move to
the piece's exit and search again (vacuum between crystals, memoryless exponential), else interact
there: choose the process by its share of the total, deposit, and go on with the scattered photon
or the annihilation photons (a small stack). Photons below the table's lowest energy are absorbed
where they are. Outputs are written per gamma into fixed slots (``max_points`` each); a history
with more points is flagged and its remaining energy counted as lost.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from gpsa._numba import jit_options

from ._intersect import MAX_ROOTS, next_crystal
from ._physics import TWO_PI, deflect, isotropic, klein_nishina, mu_at, stream_seed, thomson_cos
from ._physics import uniform as _u

PHOTO, COMPTON, PAIR, RAYLEIGH = 1, 2, 3, 4
MAX_STACK = 4


@numba.njit(**jit_options(parallel=True, fastmath=False))
def transport_kernel(first: int, seed: np.uint64, origin: np.ndarray, direction: np.ndarray,
                     energy: np.ndarray, rot: np.ndarray, trans: np.ndarray, sidx: np.ndarray,
                     centre: np.ndarray, rad2: np.ndarray, front: np.ndarray, grad: np.ndarray,
                     par: np.ndarray, mu: np.ndarray, log_e0: float, inv_dlog: float,
                     e_min: float, mc2: float, c_mm_ns: float, rayleigh: bool,
                     crow: np.ndarray, xyz: np.ndarray, edep: np.ndarray, tns: np.ndarray,
                     photon: np.ndarray, proc: np.ndarray, npts: np.ndarray,
                     escaped: np.ndarray, lost: np.ndarray) -> None:
    """Gammas ``first + g`` (their random streams) for g in range(len(energy)); fills the
    per-gamma slots ``crow[g, :], xyz[g, :, :], …`` and ``npts[g]``, ``escaped[g]``,
    ``lost[g]`` (keV not recorded because the slots were full)."""
    n_gammas = energy.shape[0]
    max_points = crow.shape[1]
    for g in numba.prange(n_gammas):
        state = np.zeros(1, np.uint64)
        state[0] = stream_seed(seed, np.uint64(first + g))
        st_p = np.empty((MAX_STACK, 3))
        st_d = np.empty((MAX_STACK, 3))
        st_e = np.empty(MAX_STACK)
        st_t = np.empty(MAX_STACK)
        st_id = np.empty(MAX_STACK, np.int64)
        p, d = np.empty(3), np.empty(3)
        o, dl, buf = np.empty(3), np.empty(3), np.empty(MAX_ROOTS + 2)
        seg, piece, w = np.empty(2), np.empty(2), np.empty(3)
        for i in range(3):
            st_p[0, i] = origin[g, i]
            st_d[0, i] = direction[g, i]
        st_e[0], st_t[0], st_id[0] = energy[g], 0.0, 0
        top, n_ids, k = 1, 1, 0
        esc, lst = 0.0, 0.0
        while top > 0:
            top -= 1
            for i in range(3):
                p[i] = st_p[top, i]
                d[i] = st_d[top, i]
            e, t, pid = st_e[top], st_t[top], st_id[top]
            while e > 0.0:
                c = next_crystal(p, d, rot, trans, sidx, centre, rad2, front, grad, par,
                                 o, dl, buf, seg, piece)
                if c < 0:
                    esc += e
                    break
                mu_c = mu_at(mu, log_e0, inv_dlog, e, 0) if rayleigh else 0.0
                mu_i = mu_at(mu, log_e0, inv_dlog, e, 1)
                mu_p = mu_at(mu, log_e0, inv_dlog, e, 2)
                mu_x = mu_at(mu, log_e0, inv_dlog, e, 3) if e > 2.0 * mc2 else 0.0
                mu_t = mu_c + mu_i + mu_p + mu_x
                s = -math.log(_u(state)) / mu_t
                if piece[0] + s >= piece[1]:
                    for i in range(3):
                        p[i] += piece[1] * d[i]
                    t += piece[1] / c_mm_ns
                    continue
                step = piece[0] + s
                for i in range(3):
                    p[i] += step * d[i]
                t += step / c_mm_ns
                r = _u(state) * mu_t
                if r < mu_c:
                    deflect(d, thomson_cos(state), TWO_PI * _u(state))
                    continue
                if r < mu_c + mu_p or e <= e_min:
                    kind, dep, e_next = PHOTO, e, 0.0
                elif r < mu_c + mu_p + mu_x:
                    kind, dep, e_next = PAIR, e - 2.0 * mc2, 0.0
                else:
                    kk = e / mc2
                    eps = klein_nishina(kk, state)
                    kind, dep, e_next = COMPTON, e * (1.0 - eps), e * eps
                    if e_next < e_min:
                        dep, e_next = e, 0.0
                    else:
                        deflect(d, 1.0 - (1.0 - eps) / (eps * kk), TWO_PI * _u(state))
                if k < max_points:
                    crow[g, k] = c
                    for i in range(3):
                        xyz[g, k, i] = (rot[c, 0, i] * (p[0] - trans[c, 0])
                                        + rot[c, 1, i] * (p[1] - trans[c, 1])
                                        + rot[c, 2, i] * (p[2] - trans[c, 2]))
                    edep[g, k] = dep
                    tns[g, k] = t
                    photon[g, k] = pid
                    proc[g, k] = kind
                    k += 1
                else:
                    lst += dep
                if kind == PAIR:
                    isotropic(w, state)
                    for sign in (1.0, -1.0):
                        if top < MAX_STACK:
                            for i in range(3):
                                st_p[top, i] = p[i]
                                st_d[top, i] = sign * w[i]
                            st_e[top], st_t[top], st_id[top] = mc2, t, n_ids
                            top += 1
                        else:
                            lst += mc2
                        n_ids += 1
                e = e_next
        npts[g] = k
        escaped[g] = esc
        lost[g] = lst
