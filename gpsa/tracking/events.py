"""Tracking of built events: :class:`gpsa.globallevel.events.BuiltEvents` → data:tracked.

Hit positions are taken in the lab frame: as they are when post-PSA already transformed them
(``lab=None``), or through a :class:`gpsa.detector.transforms.LabTransform` (crmat) from the
crystal frame, by the crystal id of their crystal event. Hits with energy ≤ 0 or non-finite
values are left out (counted in ``hits_unusable``).

Per gamma of the output (:class:`gpsa.adf.codecs.tracked.TrackedGammas`): energy = the sum of
its points' energies; ``x1..z1`` / ``x2..z2`` = first / second point (lab mm; NaN when single);
``time`` = the first point's crystal-event timestamp minus the event's, ns; ``fom``; the number
of points; ``status`` bit 0 set for a single-point gamma. Every event sent to tracking gives one
output event, with or without gammas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gpsa.adf.codecs.tracked import TrackedBlock, TrackedEvents, TrackedGammas
from gpsa.detector.transforms import LabTransform
from gpsa.globallevel.events import BuiltEvents, MergedEvents
from gpsa.tracking.tracker import STATUS_SINGLE, Tracker, TrackResult, usable_hits

TICK_NS = 10.0


@dataclass
class TrackingCounters:
    """Running counters, AGATA's four first (see :meth:`lines`)."""

    events_sent_to_tracking: int = 0
    hits_sent_to_tracking: int = 0
    gammas_out_of_tracking: int = 0
    events_with_tracked_gammas: int = 0
    hits_unusable: int = 0
    clusters: int = 0
    clusters_single: int = 0
    clusters_rejected_fom: int = 0
    singles_rejected: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def add(self, counts: dict[str, int]) -> None:
        for k, v in counts.items():
            setattr(self, k, getattr(self, k) + int(v))

    def as_dict(self) -> dict[str, int]:
        out = {k: v for k, v in vars(self).items() if k != "extra"}
        out.update(self.extra)
        return out

    def lines(self) -> list[str]:
        """The counters as AGATA's tracking prints them."""
        return [f"events sent to tracking     {self.events_sent_to_tracking}",
                f"hits sent to tracking       {self.hits_sent_to_tracking}",
                f"gammas out of tracking      {self.gammas_out_of_tracking}",
                f"events with tracked gammas  {self.events_with_tracked_gammas}"]


def lab_positions(built: BuiltEvents, lab: LabTransform | None) -> np.ndarray:
    """(m, 3) float64 hit positions of ``built`` in the lab frame (mm)."""
    hits = built.crystals.hits
    xyz = np.stack([hits.x, hits.y, hits.z], axis=1).astype(np.float64)
    if lab is None or not len(hits):
        return xyz
    crystal = built.crystals.events.crystal_ids[hits.event_index].astype(np.int64)
    return lab.to_lab(crystal, xyz)


def agata_part(block: BuiltEvents | MergedEvents) -> BuiltEvents:
    """The AGATA events of a built or merged block."""
    return block.agata if isinstance(block, MergedEvents) else block


def track_built(built: BuiltEvents, tracker: Tracker, lab: LabTransform | None = None
                ) -> tuple[TrackedBlock, TrackResult, dict[str, int]]:
    """Track every event of ``built``: the data:tracked block, the raw result (hit indices
    refer to the usable hits) and the counters of this call."""
    hits = built.crystals.hits
    pos = lab_positions(built, lab)
    ev_of_crystal = np.repeat(np.arange(len(built), dtype=np.int64), built.sizes)
    ev_of_hit = ev_of_crystal[hits.event_index]
    energy = hits.energy.astype(np.float64)
    keep = usable_hits(energy, pos)
    kept = np.flatnonzero(keep)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(ev_of_hit[keep],
                                                         minlength=len(built)))])
    res = tracker.track(pos[kept], energy[kept], offsets.astype(np.int64))
    counts = dict(res.counters)
    counts["hits_unusable"] = int((~keep).sum())
    first, second = kept[res.first], np.where(res.second >= 0, kept[np.maximum(res.second, 0)],
                                              -1)
    p1 = pos[first]
    p2 = np.where((second >= 0)[:, None], pos[np.maximum(second, 0)], np.nan)
    crystal_ts = built.crystals.events.timestamps[hits.event_index[first]].astype(np.int64)
    event_ts = built.timestamps[res.event].astype(np.int64)
    gammas = TrackedGammas(
        event_index=res.event.astype(np.int64), energy=res.energy.astype(np.float32),
        x1=p1[:, 0].astype(np.float32), y1=p1[:, 1].astype(np.float32),
        z1=p1[:, 2].astype(np.float32), x2=p2[:, 0].astype(np.float32),
        y2=p2[:, 1].astype(np.float32), z2=p2[:, 2].astype(np.float32),
        time=((crystal_ts - event_ts) * TICK_NS).astype(np.float32),
        fom=res.fom.astype(np.float32),
        n_interactions=np.minimum(res.n_points, 0xFFFF).astype(np.uint16),
        status=np.where(res.n_points == 1, STATUS_SINGLE, 0).astype(np.uint16))
    events = TrackedEvents(built.timestamps.copy(), built.event_numbers.copy(),
                           np.zeros(len(built), np.uint16))
    return TrackedBlock(events, gammas), res, counts
