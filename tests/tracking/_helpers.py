"""Shared test material: hand-made Compton chains, BuiltEvents from the toy, and a deliberately
naive reference of the ordering search (every permutation, plain Python)."""

from __future__ import annotations

import itertools
import math

import numpy as np

from gpsa.block import PsaBlock, PsaEvents, PsaHits
from gpsa.globallevel.events import BuiltEvents
from gpsa.tracking.physics import MEC2_KEV, AttenuationGrid, compton_scattered
from gpsa.tracking.toymc import ToyEvents


def rotate(v: np.ndarray, axis: np.ndarray, deg: float) -> np.ndarray:
    """``v`` rotated by ``deg`` about ``axis`` (Rodrigues)."""
    k = axis / np.linalg.norm(axis)
    t = math.radians(deg)
    return v * math.cos(t) + np.cross(k, v) * math.sin(t) + k * np.dot(k, v) * (1 - math.cos(t))


def chain(e0: float, start: np.ndarray, angles_deg: list[float], steps_mm: list[float],
          axes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Points and deposits of a gamma from the origin that first interacts at ``start``,
    scatters by ``angles_deg`` (about ``axes``), travels ``steps_mm`` and is then absorbed:
    energies made consistent by the Compton formula."""
    d = start / np.linalg.norm(start)
    pts, dep, e = [start.astype(float)], [], e0
    for ang, step, ax in zip(angles_deg, steps_mm, axes, strict=True):
        e_out = float(compton_scattered(e, math.cos(math.radians(ang))))
        dep.append(e - e_out)
        e = e_out
        d = rotate(d, np.cross(d, ax), ang)
        pts.append(pts[-1] + step * d)
    dep.append(e)
    return np.array(pts), np.array(dep)


def built_from_toy(toy: ToyEvents, positions: np.ndarray | None = None) -> BuiltEvents:
    """The toy's events as BuiltEvents: one crystal event per (event, tile), time-ordered by
    tile; hits in the lab frame."""
    pos = toy.positions if positions is None else positions
    ev = np.repeat(np.arange(len(toy)), np.diff(toy.offsets))
    order = np.lexsort((toy.crystal, ev))
    ev, cr = ev[order], toy.crystal[order]
    new = np.concatenate([[True], (ev[1:] != ev[:-1]) | (cr[1:] != cr[:-1])])
    ce = np.cumsum(new) - 1
    n_ce = int(ce[-1]) + 1
    starts = np.flatnonzero(new)
    ts = (ev[starts] * 1000).astype(np.uint64)
    events = PsaEvents(timestamps=ts, event_numbers=ev[starts].astype(np.uint32),
                       crystal_ids=cr[starts].astype(np.uint16),
                       status=np.zeros(n_ce, np.uint16),
                       e0=np.bincount(ce, toy.energies[order]).astype(np.float32),
                       e1=np.zeros(n_ce, np.float32), t0=np.zeros(n_ce, np.float32),
                       t1=np.zeros(n_ce, np.float32), psa_status=np.zeros(n_ce, np.uint16))
    hits = PsaHits.build(ce, crystal=cr, x=pos[order, 0], y=pos[order, 1], z=pos[order, 2],
                         energy=toy.energies[order])
    per_event = np.bincount(ev[starts], minlength=len(toy))
    keep = per_event > 0
    offsets = np.concatenate([[0], np.cumsum(per_event[keep])]).astype(np.int64)
    return BuiltEvents.build(PsaBlock(events, hits), offsets, 0)


def naive_best(pos: np.ndarray, e: np.ndarray, ref: float, grid: AttenuationGrid,
               sigma_mm: float, floor_rad: float) -> tuple[tuple[int, ...], float]:
    """Best ordering and FoM by scoring every permutation in plain Python (the FoM of
    docs/tracking.md, written out again from the formulas)."""
    def mu(table: np.ndarray, energy: float) -> float:
        return math.exp(np.interp(math.log(energy), grid.log_e, table))

    best, best_p = 0.0, tuple(range(len(e)))
    n = len(e)
    for p in itertools.permutations(range(n)):
        pts = [np.zeros(3)] + [pos[i] for i in p]
        en = float(e.sum())
        f = math.exp(-mu(grid.log_total, en) * max(np.linalg.norm(pts[1]) - ref, 0.0))
        for k in range(1, n):
            a, b = pts[k] - pts[k - 1], pts[k + 1] - pts[k]
            da, db = np.linalg.norm(a), np.linalg.norm(b)
            e_out = en - e[p[k - 1]]
            cos_e = 1 - MEC2_KEV * (1 / e_out - 1 / en)
            if cos_e < -1:
                f = 0.0
                break
            th_p = math.acos(min(1.0, max(-1.0, float(a @ b) / (da * db))))
            inv_a = 0.0 if k == 1 else 1 / da
            var = sigma_mm**2 * (inv_a**2 + 1 / db**2 + (1 / da + 1 / db) ** 2) + floor_rad**2
            f *= math.exp(-0.5 * (th_p - math.acos(cos_e)) ** 2 / var)
            f *= min(1.0, mu(grid.log_compton, en) / mu(grid.log_total, en))
            f *= math.exp(-mu(grid.log_total, e_out) * db)
            en = e_out
        f *= min(1.0, mu(grid.log_photo, en) / mu(grid.log_total, en))
        if f > best:
            best, best_p = f, p
    return best_p, best ** (1 / (3 * n - 1)) if best > 0 else 0.0
