"""GPU host code on the numpy path: packed transfers, staging reuse, counters per block and loop
step (batched over segments, and the per-segment path), the launch stream, the kernel setting,
float32 products with a float16 basis."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import gpsa.psa.gpu as gpu
import gpsa.psa.gpu_context as gpu_context
import gpsa.psa.gpu_xp as gpu_xp
from gpsa.bench.toy import simulate_events
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


@pytest.mark.parametrize("search", ["full", "ags"])
def test_backend_launches_on_the_context_stream(basis, single_events, search: str,  # noqa: ANN001
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The batched search passes ``ctx.numba_stream()`` to both numba kernels (the simulator
    branch, with the launches replaced by recorders that fill the outputs from the ``xp``
    stand-ins)."""
    block, _ = single_events
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, backend="gpu", search=search,
                                           refine_grid=False, refine_t0=False))
    backend = psa.backend
    assert isinstance(backend, GpuBackend) and psa.driver.batched
    streams: list[tuple[str, Any]] = []
    sentinel = object()
    monkeypatch.setattr(backend.ctx, "numba_stream", lambda: sentinel)

    def layout(args: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(("signals", "sig_off", "tab_nch", "order"), args[4:8], strict=True))

    def search_rec(*args: Any, stream: Any, threads: int) -> None:
        streams.append(("search", stream))
        t, scale, e, w, *_, info, sel, ptr, idx, lead, _mode, p, best, fom = args
        gpu_xp.exact_xp(np, backend.ctx, {**layout(args), "ptr": ptr, "idx": idx, "lead": lead},
                        t, scale, e, w, info, sel, p, 4096, best, fom)

    def foms_rec(*args: Any, stream: Any, threads: int) -> None:
        streams.append(("foms", stream))
        t, scale, e, w, *_, info, sel, ptr, idx, _mode, p, out = args
        gpu_xp.foms_xp(np, backend.ctx, {**layout(args), "ptr": ptr, "idx": idx}, t, scale, e,
                       w, info, sel, p, 4096, out)

    monkeypatch.setattr(gpu, "launch_numba", search_rec)
    monkeypatch.setattr(gpu, "launch_numba_foms", foms_rec)
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    hits = psa.run(block).hits
    kinds = {k for k, _ in streams}
    assert kinds == ({"search", "foms"} if search == "ags" else {"search"})
    assert all(s is sentinel for _, s in streams)
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM")
    again = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, backend="gpu", search=search,
                                             refine_grid=False, refine_t0=False)).run(block).hits
    assert np.array_equal(hits.x, again.x) and np.array_equal(hits.fom, again.fom)


def _count_calls(backend: GpuBackend, names: tuple[str, ...]) -> dict[str, int]:
    calls = {"n": 0}
    for name in names:
        method = getattr(backend, name)

        def counted(*a: Any, _m: Any = method, **k: Any) -> Any:
            calls["n"] += 1
            return _m(*a, **k)
        setattr(backend, name, counted)
    return calls


@pytest.mark.parametrize("interactions", [1, 3])
@pytest.mark.parametrize(("p", "search"), [(1.0, "full"), (2.0, "full"), (0.3, "ags"),
                                           (2.0, "ags")])
def test_batched_block_counters_per_loop_step(basis, crystal, interactions: int,  # noqa: ANN001
                                              p: float, search: str) -> None:
    """All hit segments of a loop step in one call: <= 3 launches, one upload and one download
    per step; a 1-interaction block is one step, a 3-interaction block 3 ranks x its passes."""
    block, _ = simulate_events(crystal, 120, n_samples=60, t0=20.0, noise=0.01,
                               interactions=interactions, seed=21)
    s = PsaSettings(samples=SAMPLES, p=p, search=search, backend="gpu", iterations=2,
                    refine_grid=False, refine_t0=False)
    psa = GridSearchPSA(basis, s).prepare()
    backend = psa.backend
    assert isinstance(backend, GpuBackend) and psa.driver.batched
    calls = _count_calls(backend, ("search_batch", "search", "all_foms"))
    backend.counters.reset()
    hits = psa.run(block).hits
    c = backend.counters
    steps = calls["n"]
    n_ranks = int(np.bincount(hits.event_index).max())
    assert 1 <= steps <= s.iterations * n_ranks and (interactions > 1) == (steps > 1)
    assert n_ranks == 1 or steps >= n_ranks
    assert c.h2d == steps and c.d2h == steps and c.syncs == steps
    assert c.launches <= 3 * steps
    assert c.launches == (3 if search == "ags" else 1) * steps
    assert c.staging_allocs <= 2
    ref = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, p=p, search=search, backend="numba",
                                           iterations=2, refine_grid=False,
                                           refine_t0=False)).run(block).hits
    same = (ref.x == hits.x) & (ref.y == hits.y) & (ref.z == hits.z)
    assert same.mean() >= 0.99
    assert np.max(np.abs(ref.fom[same] - hits.fom[same]) / ref.fom[same]) < 1e-4


@pytest.mark.parametrize(("settings", "why"), [({"gpu_kernel": "raw"}, "raw kernel"),
                                               ({"p": 0.3, "shortlist": 8}, "shortlist")])
def test_per_segment_path_one_upload_and_download_per_call(basis, double_events,  # noqa: ANN001
                                                           settings: dict, why: str) -> None:
    """Without batching (the CUDA C kernel; a p != 2 shortlist) each segment of a step is one
    call with one upload and one download (the raw kernel runs the numpy stand-in here)."""
    block, _ = double_events
    psa = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, backend="gpu", refine_grid=False,
                                           refine_t0=False, **settings)).prepare()
    backend = psa.backend
    assert isinstance(backend, GpuBackend) and not psa.driver.batched, why
    calls = _count_calls(backend, ("search", "all_foms"))
    backend.counters.reset()
    psa.run(block)
    c = backend.counters
    assert calls["n"] > 0
    assert c.h2d == calls["n"] and c.d2h == calls["n"] and c.syncs == calls["n"]
    assert c.staging_allocs <= 10 < calls["n"]
    assert c.launches / calls["n"] <= 20


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


@pytest.mark.parametrize(("p", "search", "keep", "coarse_kev"), [
    (1.0, "full", 2, 0.0), (1.0, "full", 2, 1e4), (0.3, "ags", 2, 0.0), (2.0, "ags", 3, 1e4),
    (0.5, "ags", 1, 0.0)])
def test_batched_search_equals_the_per_segment_search(basis, double_events, p: float,  # noqa: ANN001
                                                      search: str, keep: int,
                                                      coarse_kev: float) -> None:
    """The same backend with one call per segment and with every segment of a step at once:
    the same points (the concatenated layout, the device-side AGS stage and the lead point
    change nothing), the same foms up to summation order. ``coarse_kev`` 1e4: every secondary
    hit is searched on the coarse lattice only."""
    from gpsa.psa.loop import SearchDriver

    block, _ = double_events
    s = PsaSettings(samples=SAMPLES, p=p, search=search, ags_keep=keep, backend="gpu",
                    coarse_only_below_kev=coarse_kev, refine_grid=False, refine_t0=False)
    out = []
    for batch in (False, True):
        psa = GridSearchPSA(basis, s)
        psa.driver = SearchDriver(psa.backend, s, batch=batch)
        assert psa.driver.batched is batch
        out.append(psa.run(block).hits)
    a, b = out
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and np.array_equal(a.z, b.z)
    np.testing.assert_allclose(a.fom, b.fom, rtol=1e-9)
    assert np.array_equal(a.status, b.status)
