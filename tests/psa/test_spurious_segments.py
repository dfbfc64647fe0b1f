"""The masking rule of the multi-segment loop (``mask_above_kev``): a spurious low-energy hit
segment (a noise fluctuation above the net-charge threshold) stays in its neighbours' comparison,
and hits above the setting are masked as before. Toy basis of ``conftest.py``."""

from __future__ import annotations

import dataclasses

import numpy as np

from gpsa.basis.model import Basis
from gpsa.block import CrystalBlock
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.loop import channel_weights, masked_segments
from gpsa.psa.masks import build_mask

SAMPLES = 30
SPURIOUS_KEV = 16.0


def test_masked_segments_leave_out_hits_up_to_the_setting() -> None:
    event, segment = np.array([0, 0, 1]), np.array([3, 4, 3])
    energy = np.array([500.0, 16.0, 80.0], np.float32)
    every = masked_segments(2, event, segment, energy, PsaSettings())
    assert every[0, [3, 4]].all() and every[1, 3] and every.sum() == 3
    rule = masked_segments(2, event, segment, energy, PsaSettings(mask_above_kev=50.0))
    assert rule[0, 3] and not rule[0, 4] and rule[1, 3] and rule.sum() == 2
    channels = np.array([3, 4, 5, 36])
    w = channel_weights(rule, np.array([0]), 3, channels, True)
    assert w.tolist() == [[1.0, 1.0, 1.0, 1.0]]  # segment 4 (16 keV) is compared
    w = channel_weights(every, np.array([0]), 3, channels, True)
    assert w.tolist() == [[1.0, 0.0, 1.0, 1.0]]


def test_hits_above_the_setting_are_masked_as_before(basis: Basis, double_events) -> None:  # noqa: ANN001
    block, _ = double_events  # 150-1500 keV interactions
    a = GridSearchPSA(basis, PsaSettings(samples=SAMPLES)).run(block)
    b = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, mask_above_kev=50.0)).run(block)
    for name in ("segment", "x", "y", "z", "fom", "status"):
        np.testing.assert_array_equal(getattr(a.hits, name), getattr(b.hits, name))


def with_spurious_neighbour(block: CrystalBlock, segment: np.ndarray, order: str
                            ) -> CrystalBlock:
    """``block`` with a SPURIOUS_KEV energy in a 3x3 neighbour of each event's hit segment (the
    traces unchanged: that segment holds only the hit's transient and noise)."""
    mask = build_mask("agata", order)
    neighbour = [[c for c in np.flatnonzero(mask[s]) if c != s and c < 36][0] for s in segment]
    energies = block.energies.copy()
    energies[np.arange(len(block)), neighbour] = SPURIOUS_KEV
    return dataclasses.replace(block, energies=energies)


def test_spurious_segment_does_not_pull_the_real_hit(basis: Basis, single_events) -> None:  # noqa: ANN001
    block, truth = single_events
    spurious = with_spurious_neighbour(block, truth.segment, basis.segment_order)
    grid = PsaSettings(samples=SAMPLES, refine_grid=False, refine_t0=False)
    clean = GridSearchPSA(basis, grid).run(block)
    assert len(clean.hits) == len(block)
    p0 = np.stack([clean.hits.x, clean.hits.y, clean.hits.z], axis=1)
    moved = {}
    for mask_above in (0.0, 50.0):
        out = GridSearchPSA(basis, grid.replace(mask_above_kev=mask_above)).run(spurious)
        real = out.hits.segment == truth.segment[out.hits.event_index]
        assert real.sum() == len(block) and len(out.hits) == 2 * len(block)
        p = np.stack([out.hits.x, out.hits.y, out.hits.z], axis=1)[real]
        moved[mask_above] = np.linalg.norm(p - p0, axis=1)
        err, err0 = (np.linalg.norm(q - truth.position, axis=1) for q in (p, p0))
        assert np.median(err) < 1.02 * np.median(err0)
    # with the rule: the same grid point for >= 80 % of the real hits, one step for >= 90 %
    assert np.mean(moved[50.0] < 1e-4) >= 0.8 and np.mean(moved[50.0] <= 2.01) >= 0.9
    # at least as often as when the spurious segment is masked out of the real hit's channels
    assert np.mean(moved[50.0] < 1e-4) >= np.mean(moved[0.0] < 1e-4)
    assert np.mean(moved[50.0] <= 2.01) >= np.mean(moved[0.0] <= 2.01)
