"""GridSearchPSA end to end on the toy basis: accuracy, multi-segment loop, statuses, tables."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.block import CrystalBlock
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.status import PsaStatus

SAMPLES = 30


@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, 0.3])
def test_single_interactions_are_found(basis, single_events, position_error, p: float) -> None:  # noqa: ANN001
    block, truth = single_events
    out = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, p=p)).run(block)
    assert len(out.hits) == len(block)
    assert np.array_equal(out.hits.segment, truth.segment)
    err = position_error(out, truth)
    assert np.median(err) < 2.2  # 2 mm grid, 1 % noise, T0 off by up to half a sample
    assert np.mean(err > 6.0) < 0.10
    np.testing.assert_allclose(out.hits.energy, truth.energy, rtol=1e-6)


def test_ags_close_to_full(basis, single_events, position_error) -> None:  # noqa: ANN001
    block, truth = single_events
    full = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, search="full")).run(block)
    ags = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, search="ags")).run(block)
    assert np.median(position_error(ags, truth)) < 1.25 * np.median(position_error(full, truth))
    assert np.all(ags.hits.fom >= full.hits.fom * (1 - 1e-5))


def test_two_interactions_loop(basis, double_events, position_error) -> None:  # noqa: ANN001
    block, truth = double_events
    # the loop's own effect, on grid positions (refinement would move both toward the same)
    s = PsaSettings(samples=SAMPLES, refine_grid=False, refine_t0=False)
    one = GridSearchPSA(basis, s.replace(iterations=1)).run(block)
    four = GridSearchPSA(basis, s.replace(iterations=4)).run(block)
    assert len(four.hits) == 2 * len(block)
    e1, e4 = position_error(one, truth), position_error(four, truth)
    assert np.isfinite(e4).all()
    assert np.median(e4) <= np.median(e1) + 1e-6
    assert np.median(e4) < 3.0
    # hits of an event are contiguous and sorted by decreasing energy
    assert np.all(np.diff(four.hits.event_index) >= 0)
    first = four.hits.energy[0::2] >= four.hits.energy[1::2]
    assert first.all()


def _block(traces: np.ndarray, seg_e: np.ndarray, t0: float = 20.0) -> CrystalBlock:
    n = traces.shape[0]
    energies = np.zeros((n, 38), np.float32)
    energies[:, :36] = seg_e
    energies[:, 36] = seg_e.sum(axis=1)
    energies[:, 37] = seg_e.sum(axis=1) + 1
    return CrystalBlock.from_traces(traces, energies=energies, t0=np.full(n, t0, np.float32))


def test_statuses_and_event_table(basis) -> None:  # noqa: ANN001
    n = 3
    seg_e = np.zeros((n, 36), np.float32)
    seg_e[0, 7] = 500.0  # one hit
    seg_e[1, :13] = 100.0  # 13 hit segments > 12
    seg_e[2, 4] = 10.0  # below threshold
    traces = np.zeros((n, 38, 60), np.float32)
    out = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_t0=False)).run(
        _block(traces, seg_e))
    assert out.hits.event_index.tolist() == [0]
    st = out.events.psa_status
    assert st[1] & PsaStatus.TOO_MANY_SEGMENTS and st[2] & PsaStatus.NO_NET_CHARGE
    assert st[0] == 0
    np.testing.assert_allclose(out.events.e0, seg_e.sum(axis=1))
    np.testing.assert_allclose(out.events.e1, seg_e.sum(axis=1) + 1)
    assert np.all(out.events.t0 == 20.0) and np.all(out.hits.time == 20.0)


def test_coarse_only_secondary(basis, double_events) -> None:  # noqa: ANN001
    block, _ = double_events
    s = PsaSettings(samples=SAMPLES, coarse_only_below_kev=1e6)
    out = GridSearchPSA(basis, s).run(block)
    flagged = (out.hits.status & PsaStatus.COARSE_ONLY) != 0
    assert flagged.sum() == len(block)  # every secondary hit, no primary one
    assert not np.any(flagged[0::2])


def test_nan_t0_uses_default_and_int16_traces(basis, single_events) -> None:  # noqa: ANN001
    block, _ = single_events
    grid = PsaSettings(samples=SAMPLES, refine_grid=False, refine_t0=False)  # the search only
    ref = GridSearchPSA(basis, grid).run(block)
    nan_block = CrystalBlock.from_traces(block.traces, energies=block.energies,
                                         t0=np.full(len(block), np.nan, np.float32))
    out = GridSearchPSA(basis, grid.replace(default_t0=20.0)).run(nan_block)
    assert np.all(out.events.t0 == 20.0) and np.all(np.isnan(out.events.t1))
    assert out.hits.segment.tolist() == ref.hits.segment.tolist()
    i16 = CrystalBlock.from_traces(np.rint(block.traces).astype(np.int16),
                                   energies=block.energies, t0=block.t0)
    out16 = GridSearchPSA(basis, grid).run(i16)
    same = (out16.hits.x == ref.hits.x) & (out16.hits.y == ref.hits.y)
    assert same.mean() > 0.9


def test_run_does_not_mutate_block(basis, double_events) -> None:  # noqa: ANN001
    block, _ = double_events
    before = block.traces.copy()
    GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_grid=True)).run(block)
    assert np.array_equal(before, block.traces)


def test_empty_block(basis) -> None:  # noqa: ANN001
    block = _block(np.zeros((0, 38, 60), np.float32), np.zeros((0, 36), np.float32))
    out = GridSearchPSA(basis, PsaSettings(samples=SAMPLES)).run(block)
    assert len(out) == 0 and len(out.hits) == 0


def test_concurrent_runs_from_threads(basis, double_events) -> None:  # noqa: ANN001
    from concurrent.futures import ThreadPoolExecutor

    block, _ = double_events
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, threads=2))
    want = psa.run(block)
    with ThreadPoolExecutor(3) as pool:
        outs = list(pool.map(lambda _: psa.run(block), range(3)))
    assert all(o.equals(want) for o in outs)
