"""numba kernels of the tracking: cone clustering and the ordering search with its figure of
merit. The public API and the rules are in :mod:`gpsa.tracking.tracker` and ``docs/tracking.md``;
:mod:`gpsa.tracking._reference` holds a plain-Python twin used by the tests."""

from __future__ import annotations

import math

import numba
import numpy as np

RULE_SEED, RULE_LINK = 0, 1


@numba.njit(cache=True)
def cluster_events(dirs: np.ndarray, energy: np.ndarray, offsets: np.ndarray, cos_alpha: float,
                   cap: int, rule: int) -> np.ndarray:
    """Cluster id (global, numbered event by event) of every hit.

    Per event, while hits are left: the most energetic unassigned hit is the seed; "seed" rule:
    the unassigned hits within α of the seed's direction join; "link" rule: hits within α of
    any member join (grown breadth first). Closest in angle first up to ``cap`` members."""
    m = dirs.shape[0]
    label = np.full(m, -1, np.int64)
    next_id = 0
    cand = np.empty(m, np.int64)
    cosv = np.empty(m)
    for ev in range(offsets.shape[0] - 1):
        a, b = offsets[ev], offsets[ev + 1]
        left = b - a
        while left > 0:
            seed = -1
            for i in range(a, b):
                if label[i] < 0 and (seed < 0 or energy[i] > energy[seed]):
                    seed = i
            label[seed] = next_id
            size = 1
            left -= 1
            head = 0
            members = cand  # members[0:size] in join order (the seed first)
            members[0] = seed
            while size < cap and head < size:
                centre = members[head] if rule == RULE_LINK else seed
                n = 0
                for i in range(a, b):
                    if label[i] < 0:
                        c = (dirs[i, 0] * dirs[centre, 0] + dirs[i, 1] * dirs[centre, 1]
                             + dirs[i, 2] * dirs[centre, 2])
                        if c >= cos_alpha:
                            cosv[n] = -c
                            members[size + n] = i
                            n += 1
                if n == 0:
                    if rule != RULE_LINK:
                        break
                    head += 1
                    continue
                order = np.argsort(cosv[:n], kind="mergesort")
                picked = members[size:size + n].copy()
                take = min(n, cap - size)
                for j in range(take):
                    members[size + j] = picked[order[j]]
                    label[picked[order[j]]] = next_id
                size += take
                left -= take
                if rule != RULE_LINK:
                    break
                head += 1
            next_id += 1
    return label


@numba.njit(cache=True, inline="always")
def _interp(x: float, xs: np.ndarray, ys: np.ndarray) -> float:
    n = xs.shape[0]
    if x <= xs[0]:
        return ys[0]
    if x >= xs[n - 1]:
        return ys[n - 1]
    step = (xs[n - 1] - xs[0]) / (n - 1)
    j = int((x - xs[0]) / step)
    if j >= n - 1:
        j = n - 2
    t = (x - xs[j]) / (xs[j + 1] - xs[j])
    return ys[j] + t * (ys[j + 1] - ys[j])


@numba.njit(cache=True)
def _dist(p: np.ndarray, i: int, q: np.ndarray, j: int) -> float:
    dx, dy, dz = p[i, 0] - q[j, 0], p[i, 1] - q[j, 1], p[i, 2] - q[j, 2]
    return math.sqrt(dx * dx + dy * dy + dz * dz)


@numba.njit(cache=True)
def _scatter_factor(pos: np.ndarray, src: np.ndarray, prev2: int, prev: int, nxt: int,
                    e_in: float, e_dep: float, grid_e: np.ndarray, grid_c: np.ndarray,
                    grid_t: np.ndarray, sigma_mm: float, sigma_floor: float,
                    mec2: float) -> float:
    """Compton-angle agreement × Compton probability at ``prev`` × transmission to ``nxt``."""
    e_out = e_in - e_dep
    if e_out <= 0.0:
        return 0.0
    cos_e = 1.0 - mec2 * (1.0 / e_out - 1.0 / e_in)
    if cos_e < -1.0:
        return 0.0
    if prev2 < 0:
        ax, ay, az = pos[prev, 0] - src[0, 0], pos[prev, 1] - src[0, 1], pos[prev, 2] - src[0, 2]
    else:
        ax, ay, az = (pos[prev, 0] - pos[prev2, 0], pos[prev, 1] - pos[prev2, 1],
                      pos[prev, 2] - pos[prev2, 2])
    bx, by, bz = pos[nxt, 0] - pos[prev, 0], pos[nxt, 1] - pos[prev, 1], pos[nxt, 2] - pos[prev, 2]
    da = math.sqrt(ax * ax + ay * ay + az * az)
    db = math.sqrt(bx * bx + by * by + bz * bz)
    if da <= 0.0 or db <= 0.0:
        return 0.0
    cos_p = (ax * bx + ay * by + az * bz) / (da * db)
    cos_p = min(1.0, max(-1.0, cos_p))
    dtheta = math.acos(cos_p) - math.acos(cos_e)
    inv_a = 0.0 if prev2 < 0 else 1.0 / da  # the source position is exact
    inv_b = 1.0 / db
    var = sigma_mm * sigma_mm * (inv_a * inv_a + inv_b * inv_b + (1.0 / da + inv_b) ** 2)
    var += sigma_floor * sigma_floor
    f = math.exp(-0.5 * dtheta * dtheta / var) if var > 0.0 else (1.0 if dtheta == 0 else 0.0)
    le_in = math.log(e_in)
    p_compton = math.exp(_interp(le_in, grid_e, grid_c) - _interp(le_in, grid_e, grid_t))
    mu_out = math.exp(_interp(math.log(e_out), grid_e, grid_t))
    return f * min(p_compton, 1.0) * math.exp(-mu_out * db)


@numba.njit(cache=True)
def best_orders(pos: np.ndarray, energy: np.ndarray, offsets: np.ndarray, src: np.ndarray,
                ref_depth: np.ndarray, grid_e: np.ndarray, grid_p: np.ndarray,
                grid_c: np.ndarray, grid_t: np.ndarray, sigma_mm: float, sigma_floor: float,
                mec2: float) -> tuple[np.ndarray, np.ndarray]:
    """Best ordering of each cluster (rows ``offsets[k]:offsets[k+1]`` of ``pos``/``energy``)
    and its figure of merit.

    FoM of an ordering = (Π factors)^(1/(3n-1)): transmission from the source to the first point
    through ``|p0 - src| - ref_depth[k]`` mm of germanium; per scattering point the Compton-angle
    agreement, the Compton probability and the transmission to the next point; the
    photo-absorption probability of the last point. Every factor is ≤ 1, so a partial product
    below the best complete one prunes its branch (exact). Returns ``order`` (rows, the
    position in its cluster of the k-th point, as cluster-local indices) and ``fom``."""
    n_cl = offsets.shape[0] - 1
    order = np.zeros(energy.shape[0], np.int64)
    fom = np.zeros(n_cl)
    for k in range(n_cl):
        a, b = offsets[k], offsets[k + 1]
        n = b - a
        if n == 1:
            order[a] = 0
            fom[k] = 1.0
            continue
        e0 = 0.0
        for i in range(a, b):
            e0 += energy[i]
        perm = np.empty(n, np.int64)
        choice = np.full(n, -1, np.int64)
        used = np.zeros(n, np.bool_)
        prod = np.ones(n + 1)
        e_left = np.empty(n + 1)
        e_left[0] = e0
        best = 0.0
        best_perm = np.arange(n)
        depth = 0
        while depth >= 0:
            choice[depth] += 1
            if choice[depth] >= n:
                choice[depth] = -1
                depth -= 1
                if depth >= 0:
                    used[perm[depth]] = False
                continue
            i = choice[depth]
            if used[i]:
                continue
            gi = a + i
            if depth == 0:
                d0 = max(_dist(pos, gi, src, 0) - ref_depth[k], 0.0)
                f = math.exp(-math.exp(_interp(math.log(e0), grid_e, grid_t)) * d0)
            else:
                gp = a + perm[depth - 1]
                gpp = a + perm[depth - 2] if depth >= 2 else -1
                f = _scatter_factor(pos, src, gpp, gp, gi, e_left[depth - 1], energy[gp],
                                    grid_e, grid_c, grid_t, sigma_mm, sigma_floor, mec2)
            if depth == n - 1:
                le = math.log(energy[gi])
                f *= min(1.0, math.exp(_interp(le, grid_e, grid_p) - _interp(le, grid_e,
                                                                              grid_t)))
            p = prod[depth] * f
            if p <= best:
                continue
            perm[depth] = i
            if depth == n - 1:
                best = p
                best_perm[:] = perm
                continue
            used[i] = True
            prod[depth + 1] = p
            e_left[depth + 1] = e_left[depth] - energy[gi]
            depth += 1
            choice[depth] = -1
        order[a:b] = best_perm
        fom[k] = best ** (1.0 / (3 * n - 1)) if best > 0.0 else 0.0
    return order, fom
