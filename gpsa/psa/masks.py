"""Channel masks: which of the 37 channels (36 segments + core) are compared for a hit segment.

A mask is a (36, 37) boolean matrix; row ``s`` lists the channels compared when segment ``s`` is
hit. Segments are numbered in the basis ``segment_order``: sector-major ``seg = 6*sector + ring``
(AGATA PSA code) or ring-major ``seg = 6*ring + sector`` (GRETINA). Ring 0 is the front ring.

* ``agata``: the 3x3 block around the hit segment, ``|Δsector| <= 1`` cyclically and
  ``|Δring| <= 1`` (so 6 segments at the first and last ring, 9 elsewhere), plus the core.
* ``gretina``: ``|Δsector| <= 1`` cyclically with a ring window that is wider for the thin front
  rings — gpsa's own reading of the GRETINA rule (not an official table): ring 0 compares rings
  0..2, ring 1 compares rings 0..3, rings 2..5 compare ``|Δring| <= 1``; plus the core.
* a custom (36, 37) boolean matrix, used as given (the diagonal must be set).
"""

from __future__ import annotations

import numpy as np

N_SECTORS = 6
N_RINGS = 6
CORE = 36


def sector_ring(segment: np.ndarray | int, order: str) -> tuple[np.ndarray, np.ndarray]:
    """(sector, ring) of segment index(es) in ``order``."""
    seg = np.asarray(segment)
    if order == "sector-major":
        return seg // N_RINGS, seg % N_RINGS
    return seg % N_SECTORS, seg // N_SECTORS


def segment_index(sector: np.ndarray | int, ring: np.ndarray | int, order: str) -> np.ndarray:
    """Segment index of (sector, ring) in ``order``."""
    sector, ring = np.asarray(sector), np.asarray(ring)
    if order == "sector-major":
        return sector * N_RINGS + ring
    return ring * N_SECTORS + sector


def _ring_window_agata(ring: int) -> tuple[int, int]:
    return max(ring - 1, 0), min(ring + 1, N_RINGS - 1)


def _ring_window_gretina(ring: int) -> tuple[int, int]:
    if ring == 0:
        return 0, 2
    if ring == 1:
        return 0, 3
    return ring - 1, min(ring + 1, N_RINGS - 1)


def build_mask(mask: object, order: str) -> np.ndarray:
    """The (36, 37) boolean mask for a name ("agata", "gretina") or a custom matrix."""
    if not isinstance(mask, str):
        return np.asarray(mask).astype(bool).copy()
    window = _ring_window_agata if mask == "agata" else _ring_window_gretina
    out = np.zeros((36, 37), dtype=bool)
    for seg in range(36):
        sec, ring = (int(v) for v in sector_ring(seg, order))
        lo, hi = window(ring)
        for dsec in (-1, 0, 1):
            for r in range(lo, hi + 1):
                out[seg, int(segment_index((sec + dsec) % N_SECTORS, r, order))] = True
        out[seg, CORE] = True
    return out


def mask_channels(mask: np.ndarray, segment: int) -> np.ndarray:
    """Sorted channel indices compared for ``segment`` (int64)."""
    return np.flatnonzero(mask[segment]).astype(np.int64)
