"""Every backend against the numpy reference on the same searches (architecture principle 2)."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.device import select_device
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.cpu import NumbaBackend
from gpsa.psa.gpu import GpuBackend
from gpsa.psa.kernels.cpu_kernels import fast_pow
from gpsa.psa.reference import ReferenceBackend

SAMPLES = 30  # as in conftest.py

P_VALUES = [2.0, 1.0, 0.5, 0.3]


def _batch(basis, events, seg_wanted: int | None = None):  # noqa: ANN001, ANN202
    """Targets of the hits of the most populated segment, with a few channels switched off."""
    block, truth = events
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, backend="reference"))
    seg = seg_wanted if seg_wanted is not None else int(np.bincount(truth.segment).argmax())
    ev = truth.event[truth.segment == seg]
    table = psa.tables[seg]
    t0i = np.floor(block.t0.astype(np.float64) + 0.5).astype(np.int64)
    idx = t0i[ev, None] + np.arange(SAMPLES)
    win = np.take_along_axis(block.traces[ev][:, table.channels], idx[:, None, :], axis=2)
    energies = block.energies[ev, seg]
    weights = np.ones((ev.size, table.channels.size), np.float32)
    weights[::3, -2] = 0.0  # another hit segment masked out in every 3rd hit
    return table, np.ascontiguousarray(win, np.float32), energies, weights


def _groups(table, kind: str, m: int):  # noqa: ANN001, ANN202
    if kind == "full":
        ptr, idx = table.all_points()
        return ptr, idx, np.zeros(m, np.int64)
    if kind == "coarse":
        ptr, idx = table.coarse_points()
        return ptr, idx, np.zeros(m, np.int64)
    return table.fine_ptr, table.fine_idx, np.arange(m, dtype=np.int64) % table.coarse.size


def _backends(p: float) -> list:
    return [NumbaBackend(p), GpuBackend(PsaSettings(p=p), select_device("cpu"))]


@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("kind", ["full", "coarse", "fine"])
def test_search_matches_reference(basis, single_events, p: float, kind: str) -> None:  # noqa: ANN001
    table, targets, energies, weights = _batch(basis, single_events)
    ptr, idx, group = _groups(table, kind, targets.shape[0])
    ref_best, ref_fom = ReferenceBackend(p).search(table, targets, energies, weights, ptr, idx,
                                                   group)
    for backend in _backends(p):
        best, fom = backend.search(table, targets, energies, weights, ptr, idx, group)
        assert np.mean(best == ref_best) >= 0.999, backend.name
        np.testing.assert_allclose(fom, ref_fom, rtol=2e-5, err_msg=backend.name)


@pytest.mark.parametrize("p", [2.0, 0.3])
@pytest.mark.parametrize("search", ["full", "ags"])
def test_engine_backends_agree(basis, double_events, p: float, search: str) -> None:  # noqa: ANN001
    block, _ = double_events
    out = {}
    for backend in ("reference", "numba", "gpu"):
        s = PsaSettings(samples=SAMPLES, p=p, search=search, backend=backend)
        out[backend] = GridSearchPSA(basis, s).run(block)
    ref = out["reference"].hits
    for name in ("numba", "gpu"):
        hits = out[name].hits
        assert len(hits) == len(ref)
        same = (hits.x == ref.x) & (hits.y == ref.y) & (hits.z == ref.z)
        assert same.mean() >= 0.999, name
        np.testing.assert_allclose(hits.fom[same], ref.fom[same], rtol=1e-4)


@pytest.mark.parametrize("backend", ["numba", "gpu"])
def test_shortlist_agrees_with_exhaustive(basis, single_events, backend: str) -> None:  # noqa: ANN001
    block, _ = single_events
    grid = PsaSettings(samples=SAMPLES, p=0.3, refine_grid=False, refine_t0=False)
    exact = GridSearchPSA(basis, grid.replace(backend="reference"))
    short = GridSearchPSA(basis, grid.replace(backend=backend, shortlist=16))
    a, b = exact.run(block).hits, short.run(block).hits
    agree = np.mean((a.x == b.x) & (a.y == b.y) & (a.z == b.z))
    assert agree >= 0.95
    # a shortlist can only find an equal or worse optimum
    assert np.all(b.fom >= a.fom * (1 - 1e-5))


def test_fast_pow_accuracy() -> None:
    import numba

    @numba.njit
    def apply(x, p):  # noqa: ANN001, ANN202
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = fast_pow(x[i], p)
        return out

    x = np.concatenate([np.geomspace(1e-6, 1e5, 20001), [0.0]]).astype(np.float32)
    for p in (0.3, 0.25, 1.7, 3.0):
        got = apply(x, np.float32(p)).astype(np.float64)
        want = x.astype(np.float64) ** p
        ok = x > 0
        assert np.max(np.abs(got[ok] / want[ok] - 1)) < (3e-6 if p < 1 else 1e-5), p
        assert got[~ok][0] < 1e-7  # 0 is read as 1e-30


@pytest.mark.parametrize(("rank", "threads"), [(0, 1), (16, 2), (64, 2)])
def test_rank_and_threads_do_not_change_p2_results(basis, double_events, rank: int,  # noqa: ANN001
                                                    threads: int) -> None:
    block, _ = double_events
    ref = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, p=2.0, backend="reference"))
    s = PsaSettings(samples=SAMPLES, p=2.0, rank=rank, threads=threads)
    a, b = ref.run(block).hits, GridSearchPSA(basis, s).run(block).hits
    same = (a.x == b.x) & (a.y == b.y) & (a.z == b.z)
    assert same.mean() >= 0.999
    np.testing.assert_allclose(b.fom[same], a.fom[same], rtol=1e-4)


def test_union_lists_matches_numpy(basis) -> None:  # noqa: ANN001
    from gpsa.psa.kernels.cpu_kernels import union_lists

    table = GridSearchPSA(basis, PsaSettings(samples=SAMPLES)).tables[9]
    rng = np.random.default_rng(0)
    top = np.stack([rng.permutation(table.coarse.size)[:3] for _ in range(20)])
    ptr = np.empty(21, np.int64)
    idx = union_lists(top, table.coarse, table.fine_ptr, table.fine_idx, table.n_points, ptr)
    for r in range(20):
        got = idx[ptr[r]:ptr[r + 1]]
        assert got[0] == table.coarse[top[r, 0]]
        want = np.unique(np.concatenate([table.fine_idx[table.fine_ptr[c]:table.fine_ptr[c + 1]]
                                         for c in top[r]]))
        assert np.array_equal(np.sort(got), want)
