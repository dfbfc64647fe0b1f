"""Neighbour windows: which segments a PSA fit compares for a hit segment (besides the core).

* ``"agata"`` — the 3×3 block |Δsector| ≤ 1 (cyclic) × |Δring| ≤ 1: 9 segments, 6 at the first
  and the last ring (as in the public re-implementation of AGATA's grid search).
* ``"gretina"`` — gpsa's rule for a GRETINA-like window (GRETINA uses ±1 sector with wider ring
  windows for the thin front rings; its exact table is not reproduced here): ±1 sector (cyclic)
  and rings r−1 … r+1, extended one more ring towards the back while the hit ring is thinner than
  :data:`THIN_RING_MM` (the thin front rings 8 and 13 mm of AGATA: rings 1 and 2 then see rings
  1–3 and 1–4). Segments in the window: 9, 12, 9, 9, 9, 6 for rings 1..6 with AGATA depths.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gpsa.errors import ConfigError

N_SECTORS = 6
N_RINGS = 6
NEIGHBOUR_KINDS = ("agata", "gretina")
#: Rings thinner than this (mm) get a window one ring deeper towards the back ("gretina").
THIN_RING_MM = 14.0


def sector_window(sector: int) -> np.ndarray:
    """Sectors ``sector - 1, sector, sector + 1`` (cyclic)."""
    return np.array([(sector + d) % N_SECTORS for d in (-1, 0, 1)])


def ring_window(ring: int, kind: str, ring_depths: Sequence[float]) -> np.ndarray:
    """Rings compared for a hit in ``ring`` for window ``kind`` (see the module docstring)."""
    if kind not in NEIGHBOUR_KINDS:
        raise ConfigError(f"neighbour kind must be one of {', '.join(NEIGHBOUR_KINDS)}, "
                          f"got {kind!r}")
    first, last = ring - 1, ring + 1
    if kind == "gretina" and ring_depths[ring] < THIN_RING_MM:
        last += 1
    return np.arange(max(first, 0), min(last, N_RINGS - 1) + 1)
