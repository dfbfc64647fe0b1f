"""The search-backend contract (gpsa.psa.backend) and the per-table caches."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import numpy as np
import pytest

from gpsa.device import select_device
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.backend import BatchSearchBackend, SearchBackend, TableCache, ThreadedBackend
from gpsa.psa.engine import make_backend
from gpsa.psa.loop import SearchDriver
from gpsa.psa.segments import SegmentTable


@pytest.mark.parametrize(("name", "threaded", "batched"), [("reference", False, False),
                                                           ("numba", True, False),
                                                           ("gpu", False, True)])
def test_every_backend_implements_the_contract(name: str, threaded: bool, batched: bool) -> None:
    backend = make_backend(PsaSettings(backend=name), select_device("cpu"))
    assert isinstance(backend, SearchBackend) and backend.name == name
    assert isinstance(backend, ThreadedBackend) is threaded
    assert isinstance(backend, BatchSearchBackend) is batched
    driver = SearchDriver(backend, PsaSettings(backend=name))
    assert driver.batched is batched  # the CPU backends keep one call per segment
    assert SearchDriver(backend, PsaSettings(backend=name), batch=False).batched is False


@pytest.mark.parametrize(("settings", "batches"), [
    ({}, True), ({"search": "ags"}, True), ({"p": 2.0, "shortlist": 8}, True),
    ({"p": 0.3, "shortlist": 8}, False), ({"gpu_kernel": "raw"}, False)])
def test_gpu_batches_unless_a_per_segment_path_is_asked_for(settings: dict,
                                                            batches: bool) -> None:
    backend = make_backend(PsaSettings(backend="gpu", **settings), select_device("cpu"))
    assert isinstance(backend, BatchSearchBackend) and backend.batches is batches
    assert SearchDriver(backend, PsaSettings(backend="gpu", **settings)).batched is batches


def test_engine_prepares_through_the_contract(basis) -> None:  # noqa: ANN001
    for name in ("reference", "numba", "gpu"):
        psa = GridSearchPSA(basis, PsaSettings(samples=30, backend=name))
        assert psa.prepare() is psa


def _table(segment: int = 0) -> SegmentTable:
    z = np.zeros((2, 1, 1), np.float32)
    return SegmentTable(segment, np.array([0]), np.arange(2), z, z[:, :, 0], 0, np.arange(1),
                        np.array([0, 1]), np.arange(1))


def test_cache_entry_lives_as_long_as_its_table() -> None:
    built: list[int] = []
    cache: TableCache[int] = TableCache(lambda t: built.append(t.segment) or t.segment * 10)
    a = _table(1)
    assert cache.get(a) == 10 and cache.get(a) == 10 and built == [1]
    ref = weakref.ref(a)
    del a
    gc.collect()
    assert ref() is None and len(cache) == 0  # no stale entry for a reused id
    b = _table(2)
    assert cache.get(b) == 20 and built == [1, 2]


def test_cache_builds_each_entry_once_across_threads() -> None:
    calls: list[int] = []

    def slow(t: SegmentTable) -> int:
        calls.append(t.segment)
        time.sleep(0.05)
        return t.segment

    cache: TableCache[int] = TableCache(slow)
    table = _table(3)
    threads = [threading.Thread(target=cache.get, args=(table,)) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert calls == [3]
