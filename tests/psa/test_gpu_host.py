"""GPU host code on the numpy path: packed transfers, staging reuse, counters per block, the
launch stream, the kernel setting, float32 products with a float16 basis."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import gpsa.psa.gpu as gpu
import gpsa.psa.gpu_context as gpu_context
from gpsa.device import select_device
from gpsa.errors import ConfigError
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.gpu import GpuBackend
from gpsa.psa.gpu_context import DeviceContext

SAMPLES = 30


def test_packed_upload_round_trip_and_no_aliasing() -> None:
    ctx = DeviceContext(np)
    a, b = np.arange(5, dtype=np.float64), np.arange(6, dtype=np.int16).reshape(2, 3)
    with ctx.stream():
        da, db = ctx.upload([(a, np.float32), (b, np.int16)])
    assert da.dtype == np.float32 and db.shape == (2, 3)
    assert da.tolist() == a.tolist() and db.tolist() == b.tolist()
    with ctx.stream(), ctx.stream():  # both slots used again: the staging is overwritten
        ctx.upload([(np.full(5, 9.0), np.float32)])
        ctx.upload([(np.full(5, 9.0), np.float32)])
    assert da.tolist() == a.tolist()  # the "device" copy is not a view of the staging
    assert ctx.counters.h2d == 3 and ctx.counters.d2h == 0


def test_staging_is_reused_and_grown() -> None:
    ctx = DeviceContext(np)
    for n in (10, 5, 10, 8):  # two slots: one buffer each, reused for smaller uploads
        with ctx.stream():
            ctx.upload([(np.zeros(n), np.float32)])
    assert ctx.counters.staging_allocs == 2
    with ctx.stream():
        ctx.upload([(np.zeros(1000), np.float32)])  # larger: that slot grows once
    assert ctx.counters.staging_allocs == 3


class FakeEvent:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def record(self, stream: Any) -> None:
        self.log.append(f"record {stream.ptr}")

    def synchronize(self) -> None:
        self.log.append("synchronize")


def fake_cupy(log: list[str]) -> Any:
    """Just enough of CuPy's API for DeviceContext: streams with a ptr, events, device arrays
    as numpy arrays, pinned memory as numpy."""
    current: list[Any] = [SimpleNamespace(ptr=0)]

    class Stream:
        count = 0

        def __init__(self, non_blocking: bool) -> None:
            assert non_blocking
            Stream.count += 1
            self.ptr = 1000 + Stream.count

        def __enter__(self) -> Any:
            current.append(self)
            return self

        def __exit__(self, *exc: object) -> None:
            current.pop()

    class DevArray(np.ndarray):
        def set(self, host: np.ndarray, stream: Any) -> None:
            log.append(f"copy on {stream.ptr}")
            self[...] = host

    cuda = SimpleNamespace(Stream=Stream, Event=lambda: FakeEvent(log),
                           get_current_stream=lambda: current[-1],
                           Device=lambda i: SimpleNamespace(use=lambda: log.append(f"use {i}")))
    return SimpleNamespace(__name__="cupy", cuda=cuda, uint8=np.uint8,
                           empty=lambda n, dtype: np.empty(n, dtype).view(DevArray),
                           asnumpy=np.asarray)


def test_staging_slot_waits_for_its_previous_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    monkeypatch.setattr(gpu_context.DeviceContext, "_pinned",
                        lambda self, n: np.empty(n, np.uint8))
    ctx = DeviceContext(fake_cupy(log), index=1)
    for _ in range(3):
        with ctx.stream():
            ctx.upload([(np.ones(4), np.float32)])
    # slot 0 copies on stream 1001, slot 1 on 1002; the third upload reuses slot 0's buffer
    # only after synchronising the event recorded behind its first copy
    assert log == ["use 1", "copy on 1001", "record 1001", "copy on 1002", "record 1002",
                   "synchronize", "copy on 1001", "record 1001"]


def test_numba_launch_stream_is_cupys_current_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    monkeypatch.setattr(gpu_context, "external_stream", lambda ptr: seen.append(ptr) or ptr)
    ctx = DeviceContext(fake_cupy([]))
    with ctx.stream() as s:
        assert ctx.numba_stream() == s.ptr
    with ctx.stream() as s2:
        assert ctx.numba_stream() == s2.ptr != s.ptr
    assert seen == [s.ptr, s2.ptr]
    assert DeviceContext(np).numba_stream() == 0  # numpy and the (synchronous) simulator


def test_backend_launches_on_the_context_stream(basis, single_events,  # noqa: ANN001
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The search passes ``ctx.numba_stream()`` to the numba kernel (the simulator branch, with
    the launch replaced by a recorder that fills the outputs from the numpy twin)."""
    block, _ = single_events
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, backend="gpu", refine_grid=False,
                                           refine_t0=False))
    backend = psa.backend
    assert isinstance(backend, GpuBackend)
    streams: list[Any] = []
    sentinel = object()
    monkeypatch.setattr(backend.ctx, "numba_stream", lambda: sentinel)

    def record(*args: Any, stream: Any, threads: int) -> None:
        streams.append(stream)
        t, e, w, sig, _order, ptr, idx, group, _mode, p, best, fom = args
        gpu.exact_xp(np, backend.ctx, sig, t, e, w, ptr, idx, group, p, 4096, best, fom)

    monkeypatch.setattr(gpu, "launch_numba", record)
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    psa.run(block)
    assert streams and all(s is sentinel for s in streams)


@pytest.mark.parametrize(("p", "search"), [(1.0, "full"), (2.0, "full"), (0.3, "ags")])
def test_one_upload_and_one_download_per_search(basis, double_events, p: float,  # noqa: ANN001
                                                search: str) -> None:
    block, _ = double_events
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, p=p, search=search, backend="gpu",
                                           refine_grid=False, refine_t0=False)).prepare()
    backend = psa.backend
    assert isinstance(backend, GpuBackend)
    calls = {"n": 0}
    for name in ("search", "all_foms"):
        method = getattr(backend, name)

        def counted(*a: Any, _m: Any = method, **k: Any) -> Any:
            calls["n"] += 1
            return _m(*a, **k)
        setattr(backend, name, counted)
    backend.counters.reset()
    psa.run(block)
    c = backend.counters
    assert calls["n"] > 0
    assert c.h2d == calls["n"] and c.d2h == calls["n"] and c.syncs == calls["n"]
    # two slots, each grown by doubling when a call needs more: a handful of buffers per block
    assert c.staging_allocs <= 10 < calls["n"]
    per_call = c.launches / calls["n"]
    assert per_call <= (20 if p == 2.0 else 12), per_call  # shortlist: ~20 device ops per group


class RecordingXp:
    """numpy, with the dtypes of every matrix product recorded."""

    __name__ = "numpy"

    def __init__(self) -> None:
        self.products: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.products.append((a.dtype.name, b.dtype.name))
        return np.matmul(a, b)


def test_float16_basis_products_are_float32(basis) -> None:  # noqa: ANN001
    """At 1332 keV the p = 2 dot products exceed float16's 65504: both operands of every product
    are float32 (float16 is storage only), and the foms stay finite."""
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, p=2.0, backend="gpu",
                                           gpu_basis_dtype="float16"))
    assert isinstance(psa.backend, GpuBackend)
    assert psa.backend.resident(psa.tables[9])["signals"].dtype == np.float16
    xp = RecordingXp()
    psa.backend.xp = xp
    table = psa.tables[9]
    assert table is not None
    truth = np.arange(0, table.n_points, 7)[:12]
    e = np.full(truth.size, 1332.0, np.float32)
    targets = (e[:, None, None] * table.signals[truth]).astype(np.float32)
    weights = np.ones((truth.size, table.channels.size), np.float32)
    ptr, idx = table.all_points()
    best, fom = psa.backend.search(table, targets, e, weights, ptr, idx,
                                   np.zeros(truth.size, np.int64))
    assert xp.products and set(xp.products) == {("float32", "float32")}
    assert np.all(np.isfinite(fom))
    assert np.mean(best == truth) >= 0.9


def test_kernel_setting() -> None:
    assert GpuBackend(PsaSettings(gpu_kernel="raw"), select_device("cpu")).kernel == "raw"
    with pytest.raises(ConfigError, match="psa.gpu_kernel"):
        PsaSettings(gpu_kernel="opencl")
