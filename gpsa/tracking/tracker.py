"""OFT-style gamma-ray tracking of interaction points (lab frame, mm; energies keV).

``Tracker(settings).track(positions, energies, offsets)`` tracks events given as CSR rows of
hits and returns a :class:`TrackResult` (one row per accepted gamma, with the hit index of its
first and second point). The rules, in order (``docs/tracking.md``):

1. **Clustering** (:func:`gpsa.tracking._kernels.cluster_events`): directions from the source;
   per event the most energetic hit left seeds a cluster; rule ``"seed"`` takes the hits left
   within ``alpha_deg`` of the seed, ``"link"`` also those within α of any member; at most
   ``max_cluster`` members, closest in angle first (the rest seed later clusters).
2. **Ordering** (:func:`gpsa.tracking._kernels.best_orders`): every ordering of a cluster with
   more than one point is scored (branch and bound, exact) and the best kept.
3. **Acceptance**: a multi-point cluster when its FoM ≥ ``min_fom``; a single point when
   ``single_min_kev ≤ E ≤ single_max_kev`` and the probability to reach it,
   ``exp(-μ_total(E) · depth)``, is ≥ ``single_min_probability`` (depth = distance from the
   source minus ``inner_radius_mm``; without an inner radius the depth rule is off).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from gpsa.errors import ConfigError
from gpsa.tracking import _kernels
from gpsa.tracking.physics import MEC2_KEV, AttenuationGrid, default_attenuation

log = logging.getLogger(__name__)

RULES = ("seed", "link")
STATUS_SINGLE = 1  # TrackedGammas.status bit: a single-interaction gamma


@dataclass(frozen=True)
class TrackingSettings:
    """Tracking parameters (the actor's settings carry the same names and help)."""

    alpha_deg: float = 10.0
    max_cluster: int = 8
    rule: str = "link"
    position_resolution_mm: float = 5.0
    angle_floor_deg: float = 2.0
    min_fom: float = 0.05
    single_min_kev: float = 10.0
    single_max_kev: float = 20_000.0
    single_min_probability: float = 0.05
    inner_radius_mm: float | None = None
    source_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ConfigError(f"tracking rule {self.rule!r} is not one of {', '.join(RULES)}")
        if not 0.0 < self.alpha_deg <= 180.0:
            raise ConfigError(f"tracking alpha_deg {self.alpha_deg} must lie in (0, 180]")
        if not 1 <= self.max_cluster <= 10:
            raise ConfigError(f"tracking max_cluster {self.max_cluster} must lie in 1..10")


@dataclass(frozen=True, eq=False)
class TrackResult:
    """Accepted gammas (rows) of the tracked events, and what the tracking counted.

    event: (g,) int64 event of each gamma; energy: (g,) keV; first, second: (g,) int64 hit
    indices of the first and second point (second = -1 for single points); fom: (g,);
    n_points: (g,) int64; cluster_of_hit: (m,) int64 cluster id of every hit, and
    cluster_accepted: (c,) bool."""

    event: np.ndarray
    energy: np.ndarray
    first: np.ndarray
    second: np.ndarray
    fom: np.ndarray
    n_points: np.ndarray
    order: np.ndarray  # (m,) hits of all clusters, cluster by cluster, in the tracked order
    cluster_offsets: np.ndarray
    cluster_accepted: np.ndarray
    counters: dict[str, int] = field(default_factory=dict)


class Tracker:
    """OFT-style tracking with fixed settings and attenuation coefficients (see module doc)."""

    def __init__(self, settings: TrackingSettings | None = None,
                 grid: AttenuationGrid | None = None) -> None:
        self.settings = settings or TrackingSettings()
        if grid is None:
            fn, source = default_attenuation()
            grid = AttenuationGrid.sample(fn, source)
        self.grid = grid

    def track(self, positions: np.ndarray, energies: np.ndarray,
              offsets: np.ndarray) -> TrackResult:
        """Track events: hits ``offsets[k]:offsets[k+1]`` of ``positions`` (m, 3, lab mm) and
        ``energies`` (m,) keV form event ``k``. Hits with energy ≤ 0 or a non-finite value
        must be removed by the caller (:func:`usable_hits`)."""
        s = self.settings
        pos = np.ascontiguousarray(positions, np.float64)
        e = np.ascontiguousarray(energies, np.float64)
        off = np.asarray(offsets, np.int64)
        src = np.asarray(s.source_mm, np.float64).reshape(1, 3)
        rel = pos - src
        r = np.sqrt((rel * rel).sum(axis=1))
        dirs = rel / np.where(r > 0, r, 1.0)[:, None]
        label = _kernels.cluster_events(dirs, e, off, float(np.cos(np.radians(s.alpha_deg))),
                                        s.max_cluster, RULES.index(s.rule))
        rows = np.argsort(label, kind="stable")
        sizes = np.bincount(label, minlength=int(label.max()) + 1 if label.size else 0)
        c_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        cl_r = r[rows]
        if s.inner_radius_mm is not None:
            ref = np.full(sizes.shape[0], s.inner_radius_mm, np.float64)
        else:  # the cluster's shallowest point is the entrance
            ref = (np.minimum.reduceat(cl_r, c_off[:-1]) if cl_r.size
                   else np.zeros(0, np.float64))
        g = self.grid
        local, fom = _kernels.best_orders(
            pos[rows], e[rows], c_off, src, ref, g.log_e, g.log_photo, g.log_compton,
            g.log_total, s.position_resolution_mm, float(np.radians(s.angle_floor_deg)),
            MEC2_KEV)
        order = rows[c_off[:-1].repeat(sizes) + local]
        return self._accept(order, c_off, sizes, fom, e, r, label, off)

    def _accept(self, order: np.ndarray, c_off: np.ndarray, sizes: np.ndarray, fom: np.ndarray,
                e: np.ndarray, r: np.ndarray, label: np.ndarray,
                off: np.ndarray) -> TrackResult:
        s = self.settings
        first = order[c_off[:-1]]
        energy = (np.add.reduceat(e[order], c_off[:-1]) if order.size
                  else np.zeros(0, np.float64))
        single = sizes == 1
        depth = (np.maximum(r[first] - s.inner_radius_mm, 0.0) if s.inner_radius_mm is not None
                 else np.zeros(first.shape[0]))
        log_mu = np.interp(np.log(np.maximum(energy, 1e-3)), self.grid.log_e, self.grid.log_total)
        reach = np.exp(-np.exp(log_mu) * depth)
        fom = np.where(single, reach, fom)
        ok_single = (single & (energy >= s.single_min_kev) & (energy <= s.single_max_kev)
                     & (reach >= s.single_min_probability))
        ok_multi = ~single & (fom >= s.min_fom)
        accepted = ok_single | ok_multi
        second = np.where(single, -1, order[np.minimum(c_off[:-1] + 1, max(order.size - 1, 0))])
        ev_of_hit = np.repeat(np.arange(off.shape[0] - 1), np.diff(off))
        ev = ev_of_hit[first] if first.size else np.zeros(0, np.int64)
        a = accepted
        counters = {"events_sent_to_tracking": int(off.shape[0] - 1),
                    "hits_sent_to_tracking": int(e.shape[0]),
                    "gammas_out_of_tracking": int(a.sum()),
                    "events_with_tracked_gammas": int(np.unique(ev[a]).size),
                    "clusters": int(sizes.shape[0]),
                    "clusters_single": int(single.sum()),
                    "clusters_rejected_fom": int((~single & ~ok_multi).sum()),
                    "singles_rejected": int((single & ~ok_single).sum())}
        return TrackResult(event=ev[a].astype(np.int64), energy=energy[a], first=first[a],
                           second=second[a].astype(np.int64), fom=fom[a],
                           n_points=sizes[a].astype(np.int64), order=order,
                           cluster_offsets=c_off, cluster_accepted=accepted, counters=counters)


def usable_hits(energies: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Bool mask of hits tracking can use: energy > 0 and every value finite."""
    return (np.isfinite(energies) & (energies > 0)
            & np.all(np.isfinite(positions), axis=1))
