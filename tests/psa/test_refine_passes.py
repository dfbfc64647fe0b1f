"""refine_passes: T0 and positions refined in turn until they stop moving."""

from __future__ import annotations

import numpy as np
import pytest

from gpsa.basis.model import Basis
from gpsa.bench.accuracy import hit_positions, match_hits
from gpsa.bench.toy import simulate_events
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.refine_numba import NumbaRefiner

SAMPLES = 30


def _median_error(out, truth) -> float:  # noqa: ANN001
    h, t = match_hits(out, truth)
    return float(np.median(np.linalg.norm(hit_positions(out)[h] - truth.position[t], axis=1)))


def _count_t0_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of hits of every T0 scan of the numba refiner, recorded from now on."""
    calls: list[int] = []
    real = NumbaRefiner.refine_t0

    def counted(self, hits, window):  # noqa: ANN001, ANN202
        calls.append(len(hits))
        return real(self, hits, window)

    monkeypatch.setattr(NumbaRefiner, "refine_t0", counted)
    return calls


@pytest.fixture(scope="module")
def events(crystal):  # noqa: ANN001, ANN201
    return simulate_events(crystal, 80, n_samples=60, t0=20.0, noise=0.005, t0_jitter=0.5,
                           seed=51)


def test_more_passes_do_not_lose_accuracy_and_stop(basis: Basis, events,  # noqa: ANN001
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    block, truth = events
    calls = _count_t0_scans(monkeypatch)
    s = PsaSettings(samples=SAMPLES, refine_passes=1)
    one = GridSearchPSA(basis, s).run(block)
    assert len(calls) == 1
    calls.clear()
    many = GridSearchPSA(basis, s.replace(refine_passes=40)).run(block)
    assert 1 < len(calls) < 40  # stopped once nothing moved
    assert _median_error(many, truth) <= _median_error(one, truth) * 1.02
    assert not np.array_equal(one.hits.x, many.hits.x)


def test_passes_need_t0_and_grid(basis: Basis, events) -> None:  # noqa: ANN001
    """Without refine_grid (or refine_t0) there is nothing to alternate: one T0 step."""
    block, _ = events
    s = PsaSettings(samples=SAMPLES, refine_grid=False, refine_passes=1)
    a = GridSearchPSA(basis, s).run(block)
    b = GridSearchPSA(basis, s.replace(refine_passes=5)).run(block)
    np.testing.assert_array_equal(a.events.t0, b.events.t0)


def test_later_passes_refine_the_moving_events_only(basis: Basis, events,  # noqa: ANN001
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An event that did not move in a pass gives the same answer in every later pass, so
    skipping it changes nothing: equal to running every pass on every event, with fewer hits
    refined."""
    from gpsa.psa import passes

    block, _ = events
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_passes=6))
    sizes = _count_t0_scans(monkeypatch)
    skipped = psa.run(block)
    n_skip = list(sizes)
    sizes.clear()
    full = passes.refine
    monkeypatch.setattr("gpsa.psa.engine.refine_passes",
                        lambda *a, **k: full(*a, **k, only_moving=False))
    every = psa.run(block)
    assert len(n_skip) == len(sizes) > 2
    assert n_skip[0] == sizes[0] and all(a < b for a, b in zip(n_skip[1:], sizes[1:], strict=True))
    for name in ("x", "y", "z", "fom"):
        np.testing.assert_array_equal(getattr(skipped.hits, name), getattr(every.hits, name))
    np.testing.assert_array_equal(skipped.events.t0, every.events.t0)


def test_take_events_renumbers_and_put_back_stores(basis: Basis, events) -> None:  # noqa: ANN001
    from gpsa.psa.passes import put_back, take_events

    block, _ = events
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, refine_t0=False, refine_grid=False))
    hits, *_ = psa.search(block)
    chosen = np.array([3, 7, 8, 40])
    sub, keep = take_events(hits, chosen)
    np.testing.assert_array_equal(chosen[sub.event], hits.event[keep])
    assert np.all(np.diff(sub.event) >= 0) and set(sub.event) == set(range(chosen.size))
    sub.offset_mm[:] = 1.5
    sub.fom[:] = -1.0
    put_back(hits, keep, sub)
    assert np.all(hits.offset_mm[keep] == 1.5) and np.all(hits.fom[keep] == -1.0)
    others = np.setdiff1d(np.arange(len(hits)), keep)
    assert np.all(hits.offset_mm[others] == 0.0)
