from __future__ import annotations

import numpy as np
import pytest

from gpsa.psa.masks import build_mask, sector_ring, segment_index


@pytest.mark.parametrize("order", ["sector-major", "ring-major"])
def test_agata_mask_3x3_plus_core(order: str) -> None:
    m = build_mask("agata", order)
    assert m.shape == (36, 37) and m[:, 36].all()
    sec, ring = sector_ring(np.arange(36), order)
    counts = m[:, :36].sum(axis=1)
    assert np.all(counts[(ring == 0) | (ring == 5)] == 6)
    assert np.all(counts[(ring > 0) & (ring < 5)] == 9)
    assert np.all(m[np.arange(36), np.arange(36)])


def test_agata_mask_is_cyclic_in_sector() -> None:
    m = build_mask("agata", "sector-major")
    seg = int(segment_index(0, 2, "sector-major"))  # sector A, ring 3
    on = set(np.flatnonzero(m[seg, :36]).tolist())
    expect = {int(segment_index(s, r, "sector-major")) for s in (5, 0, 1) for r in (1, 2, 3)}
    assert on == expect


def test_order_matters() -> None:
    a = build_mask("agata", "sector-major")
    b = build_mask("agata", "ring-major")
    # the same physical neighbourhood, relabelled
    perm = np.array([int(segment_index(*sector_ring(s, "sector-major"), "ring-major"))
                     for s in range(36)])
    assert np.array_equal(a[:, :36], b[perm][:, perm])


def test_gretina_wider_for_front_rings() -> None:
    m = build_mask("gretina", "sector-major")
    _, ring = sector_ring(np.arange(36), "sector-major")
    counts = m[:, :36].sum(axis=1)
    assert np.all(counts[ring == 0] == 9)  # rings 0..2
    assert np.all(counts[ring == 1] == 12)  # rings 0..3
    assert np.all(counts[(ring >= 2) & (ring <= 4)] == 9)
    assert np.all(counts[ring == 5] == 6)
