"""The lattice refinement on the device (gpsa.psa.refine_gpu, kernels gpsa.psa.kernels.cuda_refine)
against the numba CPU refinement (gpsa.psa.refine_numba), under the CUDA simulator.

One subprocess (NUMBA_ENABLE_CUDASIM must be set before numba.cuda is imported) refines the same
grid-search hits with NumbaRefiner and GpuRefiner (positions at δ = 0, T0, positions from the
second stage, then the model signals) and saves both results per case; the tests compare them
(points, offsets, foms, δ, signals to float rounding; ties may break differently, as in
test_refine_kernels.py). Cases: single hits at p = 2 and p = 0.3 (the general power), two hits
per event (ranks: the residual of earlier hits), a float16 basis with another t0_range (pad), and
the engine end to end (GridSearchPSA backend "gpu" with the default refinement against backend
"numba"). The simulator runs one Python thread per CUDA thread: few events per case.

Without the simulator the gpu backend on the numpy host path keeps the CPU kernels (in process);
the kernels compile through NVVM and ptxas without spills where ptxas is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gpsa.basis.model import Basis
from gpsa.bench.toy import simulate_events
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.refine import STAGES
from gpsa.psa.refine_gpu import GpuRefiner, runs_on_device
from gpsa.psa.refine_numba import NumbaRefiner

SCRIPT = textwrap.dedent("""
    import copy, dataclasses, json, sys
    import numpy as np
    from gpsa.bench.toy import ToyCrystal, simulate_events, toy_basis
    from gpsa.psa import GridSearchPSA, PsaSettings
    from gpsa.psa.refine_gpu import GpuRefiner, device_tables
    from gpsa.psa.refine_numba import NumbaRefiner

    out = sys.argv[1]
    crystal = ToyCrystal.small()
    basis = toy_basis(crystal, grid_mm=2.0, n_samples=40, t0_sample=5)

    def events(n, interactions, seed):
        return simulate_events(crystal, n, n_samples=60, t0=20.0, noise=0.01, t0_jitter=0.5,
                               interactions=interactions, seed=seed)[0]

    def gpu_psa(b, **kw):
        psa = GridSearchPSA(b, PsaSettings(samples=30, backend="gpu", **kw))
        psa.backend.block_threads = 16  # the search kernel under the simulator
        return psa

    def both(name, b, block, **kw):
        # the hits of the numba search (the simulated search kernel is slow), refined by both
        psa = gpu_psa(b, **kw)
        cpu = GridSearchPSA(b, PsaSettings(samples=30, backend="numba", **kw))
        hits, window, hit_set, _, _ = cpu.search(block)
        hits.signal[:] = psa.basis_window[hits.point]
        arrays, meta = {}, {"name": name, "ranks": int(hits.rank.max()) + 1,
                            "refiner": type(psa._refiner(hit_set)).__name__}
        for cls in (NumbaRefiner, GpuRefiner):
            h, r, counts = copy.deepcopy(hits), cls(psa, hit_set), []
            ctr = psa.backend.counters
            for step in ("grid", "t0", "grid1", "model"):
                ctr.reset()
                if step == "grid":
                    r.refine_grid(h, window, np.zeros(window.shape[0]))
                elif step == "t0":
                    d = r.refine_t0(h, window)
                elif step == "grid1":
                    r.refine_grid(h, window, d, first_stage=1)
                else:
                    model = r.model_signals(h, d[h.event])
                counts.append(ctr.snapshot())
            k = cls.__name__
            arrays.update({f"{k}_point": h.point, f"{k}_offset": h.offset_mm, f"{k}_fom": h.fom,
                           f"{k}_delta": d, f"{k}_signal": h.signal, f"{k}_model": model})
            meta[k] = counts
        np.savez(f"{out}/{name}.npz", **arrays)
        print(json.dumps(meta), flush=True)

    both("single_p2", basis, events(4, 1, 31), p=2.0)
    both("single_p03", basis, events(3, 1, 41), p=0.3)
    both("double", basis, events(3, 2, 33))
    half = dataclasses.replace(basis, signals=basis.signals.astype(np.float16), source="half")
    both("float16", half, events(3, 1, 34), t0_range=1.5)

    # the engine end to end: default refinement on the gpu backend vs the numba backend, and
    # the counters of the refinement of the block (GridSearchPSA.refine, within run), the
    # basis tables made resident before
    block = events(3, 1, 35)
    gpu = gpu_psa(basis)
    gpu.backend.counters.reset()
    device_tables(gpu, gpu.backend.ctx)
    resident = gpu.backend.counters.snapshot()["h2d"]
    counts, refine = [], gpu.refine
    def counted(hits, *args):
        gpu.backend.counters.reset()
        t = refine(hits, *args)
        counts.append(dict(gpu.backend.counters.snapshot(), ranks=int(hits.rank.max()) + 1))
        return t
    gpu.refine = counted
    runs = {"gpu": gpu.run(block),
            "numba": GridSearchPSA(basis, PsaSettings(samples=30, backend="numba")).run(block)}
    arrays = {f"{k}_{f}": getattr(o.hits, f) for k, o in runs.items() for f in ("x", "y", "z")}
    arrays.update({f"{k}_t0": o.events.t0 for k, o in runs.items()})
    np.savez(f"{out}/engine.npz", **arrays)
    print(json.dumps({"name": "engine", "block": counts[0], "resident": resident}), flush=True)
""")

CASES = ["single_p2", "single_p03", "double", "float16"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    out = tmp_path_factory.mktemp("refine_gpu")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return out, {r["name"]: r for r in rows}


@pytest.mark.parametrize("name", CASES)
def test_device_refinement_equals_numba(sim: tuple[Path, dict[str, dict]], name: str) -> None:
    out, meta = sim
    z = np.load(out / f"{name}.npz")
    a = {k: z[f"NumbaRefiner_{k}"] for k in ("point", "offset", "fom", "delta", "signal", "model")}
    b = {k: z[f"GpuRefiner_{k}"] for k in a}
    assert meta[name]["refiner"] == "GpuRefiner"  # the engine's choice under the simulator
    assert np.array_equal(a["point"], b["point"])
    same = np.abs(a["offset"] - b["offset"]).max(axis=1) < 1e-5
    assert same.sum() >= same.size - 1, (a["offset"], b["offset"])  # a float tie may break
    assert np.sum(np.abs(a["delta"] - b["delta"]) > 1e-9) <= 1
    np.testing.assert_allclose(b["fom"][same], a["fom"][same], rtol=2e-4)  # p < 1: fast_pow
    for key in ("signal", "model"):
        np.testing.assert_allclose(b[key][same], a[key][same], rtol=1e-4, atol=1e-6)
    assert np.any(np.abs(a["offset"]).max(axis=1) > 0)  # the refinement did move hits
    assert np.any(a["delta"] != 0)


def test_two_hits_use_ranks(sim: tuple[Path, dict[str, dict]]) -> None:
    assert sim[1]["double"]["ranks"] >= 2  # several ranks: the residual of earlier hits


@pytest.mark.parametrize("name", CASES)
def test_one_upload_and_download_per_call(sim: tuple[Path, dict[str, dict]], name: str) -> None:
    """Per call: one packed upload (the block's window with the first), one packed download;
    launches: residual + one per rank (positions), T0 + signals (T0), one (model signals)."""
    meta = sim[1][name]
    ranks = meta["ranks"]
    want = [1 + ranks, 2, 1 + ranks, 1]
    for counts, launches in zip(meta["GpuRefiner"], want, strict=True):
        assert (counts["launches"], counts["h2d"], counts["d2h"]) == (launches, 1, 1), counts
    assert all(c["launches"] == c["h2d"] == c["d2h"] == 0 for c in meta["NumbaRefiner"])


def test_engine_gpu_backend_equals_numba(sim: tuple[Path, dict[str, dict]]) -> None:
    out, meta = sim
    z = np.load(out / "engine.npz")
    pg = np.stack([z["gpu_x"], z["gpu_y"], z["gpu_z"]], axis=1)
    pn = np.stack([z["numba_x"], z["numba_y"], z["numba_z"]], axis=1)
    assert pg.shape == pn.shape and pg.shape[0] >= 3
    close = np.linalg.norm(pg - pn, axis=1) < 1e-4
    assert close.sum() >= close.size - 1, (pg, pn)
    assert np.sum(np.abs(z["gpu_t0"] - z["numba_t0"]) > 1e-9) <= 1
    # one block's refinement: positions, then per pass (on the moving events) T0 and positions:
    # 1 + 2P uploads and downloads, 1 + R + P (3 + R) launches; nothing more made resident
    block, s = meta["engine"]["block"], PsaSettings()
    ranks, passes = block["ranks"], (block["d2h"] - 1) // 2
    assert 1 <= passes <= s.refine_passes and block["h2d"] == block["d2h"] == 1 + 2 * passes
    assert block["launches"] == 1 + ranks + passes * (3 + ranks), block
    assert meta["engine"]["resident"] == 8 + 2 * len(STAGES)  # basis, grid, masks, lattices


def test_numpy_host_path_keeps_the_cpu_kernels(
        basis: Basis, crystal, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    block, _ = simulate_events(crystal, 3, n_samples=60, t0=20.0, noise=0.01, seed=36)
    for backend, method in (("gpu", "lattice"), ("gpu", "fit"), ("numba", "lattice")):
        psa = GridSearchPSA(basis, PsaSettings(samples=30, backend=backend,
                                               refine_method=method))
        assert not runs_on_device(psa)
        hits, _, hit_set, _, _ = psa.search(block)
        assert not isinstance(psa._refiner(hit_set), GpuRefiner)
    psa = GridSearchPSA(basis, PsaSettings(samples=30, backend="gpu"))
    assert isinstance(psa._refiner(hit_set), NumbaRefiner)
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    assert runs_on_device(psa)
    assert not runs_on_device(GridSearchPSA(basis, PsaSettings(samples=30, backend="numba")))


def test_shift_beyond_t0_range_is_refused(basis: Basis, crystal) -> None:  # noqa: ANN001
    """The device basis holds the window ± pad only: a larger δ is an error, not a clamp."""
    block, _ = simulate_events(crystal, 2, n_samples=60, t0=20.0, noise=0.01, seed=37)
    psa = GridSearchPSA(basis, PsaSettings(samples=30, backend="gpu", t0_range=1.0))
    hits, _, hit_set, _, _ = psa.search(block)
    with pytest.raises(ValueError, match="beyond t0_range"):
        GpuRefiner(psa, hit_set).model_signals(hits, np.full(len(hits), 1.5))


NVVM_PTX = textwrap.dedent("""
    import sys
    from types import SimpleNamespace
    from numba import cuda, types as t
    import numba.cuda.dispatcher as dispatcher
    out = sys.argv[1]
    from gpsa.psa.kernels import cuda_refine as cr
    f1, f3, d1, d2 = t.float32[::1], t.float32[:, :, ::1], t.float64[::1], t.float64[:, ::1]
    i1, i2, i3, b2, i, f = t.int64[::1], t.int64[:, ::1], t.int64[:, :, ::1], t.boolean[:, ::1], \\
        t.int64, t.float64
    grid = (i3, d1, d1, i1)
    sigs = {"residual_kernel": (f3, i1, f1, f3, f3),
            "positions_kernel": (f3, f3, f3, i1, i1, i1, f1, d2, d1, i2, i1, b2, t.boolean)
            + grid + (f3, i, d2, i1, i, f, f3, d2, d1),
            "signal_kernel": (f3, d2, i1, d1, i1) + grid + (i, f3),
            "t0_kernel": (f3, i1, d2, i1, f1, b2) + grid + (f3, i, i, d1, i, f, i, f, f3, d1)}
    for arch in sys.argv[2:]:
        cc = (int(arch[3]), int(arch[4]))
        # device functions are compiled for the current device's cc: without a driver, name it
        dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=cc)
        for name, sig in sigs.items():
            ptx, _ = cuda.compile_ptx(getattr(cr, name).py_func, sig, cc=cc)
            open(f"{out}/{arch}_{name}.ptx", "w").write(ptx)
""")


@pytest.mark.skipif(shutil.which("ptxas") is None, reason="ptxas not installed")
def test_kernels_compile_without_spills(tmp_path: Path) -> None:
    """The device kernels (with the shared CPU bodies) through NVVM to PTX for sm_90 (H100,
    H200; sm_80 also passes, left out for time), then ptxas: no spills."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    res = subprocess.run([sys.executable, "-c", NVVM_PTX, str(tmp_path), "sm_90"],
                         capture_output=True, text=True, timeout=300, env=env)
    if res.returncode != 0 and "NVVM" in res.stderr and "not" in res.stderr.lower():
        pytest.skip(f"libNVVM not found: {res.stderr.strip().splitlines()[-1]}")
    assert res.returncode == 0, res.stderr[-3000:]
    for ptx in sorted(tmp_path.glob("*.ptx")):
        arch = ptx.stem[:5]
        res = subprocess.run(["ptxas", f"-arch={arch}", "-v", str(ptx), "-o",
                              str(tmp_path / "k.cubin")], capture_output=True, text=True,
                             timeout=180)
        assert res.returncode == 0, res.stderr
        used = [line for line in res.stderr.splitlines() if "registers" in line]
        print(f"cuda_refine.{ptx.stem[6:]} {arch}: {used}")  # shown with -rA
        assert " 0 bytes spill stores, 0 bytes spill loads" in res.stderr, res.stderr
    assert len(list(tmp_path.glob("*.ptx"))) == 4
