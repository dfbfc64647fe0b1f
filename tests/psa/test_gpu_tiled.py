"""The tiled kernels (``gpu_kernel = "tiled"``) under the CUDA simulator against a naive numpy
search and the per-hit kernel; the tiling; the exp2/log2 power's error; the GPU branch through
NVVM and ptxas; end to end against the numba CPU backend (simulator and numpy host path).

The kernel cases (one subprocess: NUMBA_ENABLE_CUDASIM is read when numba.cuda is imported): two
tables of 4 and 3 channels in one launch, lists longer than the block (32 threads = one warp, 64
= two), 11 hits on one list (tiles of 4, 4 and 3), hits of two lists of one table interleaved, an
empty list, a channel switched off for a whole tile and one for a single hit, a three-way tie
(positions 3, 37 and 67: two lanes of a warp, two warps, one thread twice), float16 storage,
int16 targets with a scale, every p branch; the per-hit kernel on the same hits for p = 0.3
(the simulator is slow: one kernel per case otherwise)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gpsa.bench.gpu_check import make_blocks, toy_basis
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.gpu_tiled import make_tiles, tile_size

SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    from gpsa.psa.gpu_tiled import make_tiles
    from gpsa.psa.kernels import cuda_kernels, cuda_tiled
    from gpsa.psa.kernels.cpu_kernels import p_mode

    def case(name, p, threads, dtype="float32", int16=False, old=False, seed=0):
        rng = np.random.default_rng(seed)
        n_k, pts, nch = 5, (70, 50), (4, 3)
        sigs = [rng.normal(size=(pts[s], nch[s], n_k)).astype(np.float32) for s in (0, 1)]
        sigs[0][37] = sigs[0][3]
        sigs[0][67] = sigs[0][3]
        sigs = [x.astype(dtype) for x in sigs]
        flat = np.concatenate([x.reshape(-1) for x in sigs])
        flat_t = np.concatenate([np.transpose(x, (1, 2, 0)).reshape(-1) for x in sigs])
        off = np.array([0, sigs[0].size], np.int64)
        tab_nch, t_pts = np.array(nch, np.int64), np.array(pts, np.int64)
        order = np.array([[1, 0, 3, 2], [2, 0, 1, 0]], np.int64)
        lists = [np.arange(70), np.arange(50), np.arange(1, 50, 3), np.zeros(0, np.int64)]
        ptr = np.concatenate([[0], np.cumsum([x.size for x in lists])]).astype(np.int64)
        idx = np.concatenate(lists).astype(np.int64)
        tab = np.array([0] * 13 + [1] * 6, np.int64)
        group = np.array([0] * 11 + [3] * 2 + [1, 2, 1, 2, 1, 1], np.int64)
        m = tab.size
        e = rng.uniform(100.0, 1400.0, m).astype(np.float32)
        t = np.zeros((m, 4, n_k), np.float32)
        w = np.zeros((m, 4), np.float32)
        for h in range(m):
            c = nch[tab[h]]
            s_ = sigs[tab[h]].astype(np.float32)
            t[h, :c] = e[h] * s_[rng.integers(0, pts[tab[h]])]
            t[h, :c] += rng.normal(scale=3.0, size=(c, n_k))
            w[h, :c] = 1.0
        t[0, :4] = e[0] * sigs[0][3].astype(np.float32)  # fom 0 at the tie
        t[1, :4] = e[1] * sigs[0][3].astype(np.float32) + 2.0  # a non-zero tie
        w[:4, 3] = 0.0  # off for the whole first tile
        w[9, 1] = 0.0
        scale = 1.0
        if int16:
            scale = float(np.abs(t).max()) / 32000.0
            t = np.rint(t / scale).astype(np.int16)
        tq = t.astype(np.float32) * np.float32(scale)
        tiles = make_tiles(group, tab, 4)
        args = (t, scale, e, w, flat_t, off, t_pts, tab_nch, order, *tiles, ptr, idx,
                p_mode(p), p)
        best, fom = np.full(m, -7, np.int64), np.full(m, np.nan)
        cuda_tiled.launch_tiled(*args, best, fom, threads=threads)
        out = np.full((m, 70), np.nan)
        cuda_tiled.launch_tiled_foms(*args, out, threads=threads)
        info = np.stack([tab, group, np.zeros(m, np.int64), np.ones(m, np.int64)])
        old_b, old_f = np.full(m, -7, np.int64), np.full(m, np.nan)
        if old:  # the per-hit kernel on the (Ns, C, K) layout
            cuda_kernels.launch(t, scale, e, w, flat, off, tab_nch, order, info,
                                info[3][:, None], ptr, idx, np.full(4, -1, np.int64),
                                p_mode(p), p, old_b, old_f, threads=threads)
        want_b, want_f, rows = [], [], []
        for h in range(m):
            c, cand = nch[tab[h]], idx[ptr[group[h]]:ptr[group[h] + 1]]
            d = np.abs(tq[h, :c][None] - e[h] * sigs[tab[h]][cand].astype(np.float32))
            f = ((d.astype(np.float64) ** p).sum(axis=2) * w[h, :c][None]).sum(axis=1)
            rows.append(f.tolist() + [float("inf")] * (70 - cand.size))
            j = int(np.argmin(f)) if cand.size else -1
            want_b.append(int(cand[j]) if cand.size else -1)
            want_f.append(float(f[j]) if cand.size else float("inf"))
        print(json.dumps({"name": name, "tiles": len(tiles[0]), "best": best.tolist(),
                          "want_best": want_b, "old_best": old_b.tolist() if old else None,
                          "fom": fom.tolist(), "want_fom": want_f,
                          "old_fom": old_f.tolist() if old else None,
                          "rows": out.tolist(), "want_rows": rows}))

    case("p2", 2.0, 32)
    case("p1_float16", 1.0, 32, dtype="float16", seed=1)
    case("p05_int16", 0.5, 32, int16=True, seed=2)
    case("p03", 0.3, 64, old=True, seed=3)

    # the general-p branch runs exp2(p·log2 d) under the simulator (math.exp2, math.log2)
    from numba import cuda
    @cuda.jit
    def powers(d, p, out):
        i = cuda.grid(1)
        if i < d.size:
            out[i] = cuda_tiled._power(d[i], 3, p)
    d = np.concatenate([[0.0], np.logspace(-6, 4, 63)]).astype(np.float32)
    got = np.zeros(64, np.float64)
    powers[2, 32](d, np.float32(0.3), got)
    # float32 p times the float64 log2 rounds to float32 in the simulator (NumPy's NEP 50)
    want = [0.0] + [2.0 ** float(np.float32(0.3) * float(np.log2(np.float64(x))))
                    for x in d[1:]]
    print(json.dumps({"name": "power", "got": got.tolist(), "want": want}))
""")

CASES = ["p2", "p1_float16", "p05_int16", "p03"]
INF = float("inf")


def _close(got: list[float], want: list[float], rtol: float) -> bool:
    return all((w == INF and g == INF) or abs(g - w) <= rtol * abs(w) + 1e-6
               for g, w in zip(got, want, strict=True))


@pytest.fixture(scope="module")
def sim() -> dict[str, dict]:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", GPSA_NUMBA_CACHE="0")
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                         timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    return {r["name"]: r for r in map(json.loads, res.stdout.splitlines())}


@pytest.mark.parametrize("name", CASES)
def test_tiled_kernels_match_naive_search_and_per_hit_kernel(sim: dict[str, dict],
                                                             name: str) -> None:
    r = sim[name]
    assert r["tiles"] == 6  # group 0: 4 + 4 + 3 hits; groups 1, 2, 3: one tile each
    assert r["best"] == r["want_best"]
    assert r["best"][0] == r["best"][1] == 3  # the tie at positions 3, 37, 67: the earliest
    assert r["best"][11:13] == [-1, -1] and r["fom"][11:13] == [INF, INF]  # empty list
    assert _close(r["fom"], r["want_fom"], 2e-5)
    for got, want in zip(r["rows"], r["want_rows"], strict=True):
        assert _close(got, want, 2e-5)
    if name == "p03":  # the per-hit kernel on the same hits (64 threads, general p)
        assert r["old_best"] == r["best"] and _close(r["fom"], r["old_fom"], 1e-6)


def test_simulator_runs_the_exp2_log2_power(sim: dict[str, dict]) -> None:
    r = sim["power"]
    assert r["got"][0] == 0.0
    np.testing.assert_allclose(r["got"][1:], r["want"][1:], rtol=1e-12)


@pytest.mark.parametrize("p", [0.3, 0.7, 1.5])
def test_power_approximation_error(p: float) -> None:
    """Max relative error against float64 d ** p over d = 1e-6..1e4 keV (float32 d) of float32
    exp2(p32·log2 d) (numpy's float32 functions), beside float32 d ** p32 (the per-hit kernel's
    powf); bounded by the worst case with libdevice's documented accuracy (log2f 1 ulp, exp2f 2
    ulp) and the rounding of p·log2 d and of p: ln2·p·|log2 d|·2^-22 + 2^-22, |log2 d| <= 19.93."""
    d = np.logspace(-6, 4, 200_001).astype(np.float32)
    ref = d.astype(np.float64) ** p
    p32 = np.float32(p)
    via = float(np.max(np.abs(np.exp2(p32 * np.log2(d)) - ref) / ref))
    powf = float(np.max(np.abs(np.power(d, p32) - ref) / ref))
    bound = float(np.log(2.0) * p * np.log2(1e6) * 2.0 ** -22 + 2.0 ** -22)
    print(f"p={p}: exp2(p*log2 d) max rel err {via:.2e}, float32 d**p {powf:.2e}, "
          f"bound {bound:.2e}")
    assert via <= bound
    # measured (numpy float32): 5.1e-7 at p = 0.3, 9.0e-7 at 0.7, 1.7e-6 at 1.5 (float32 pow:
    # 2.2e-7, 2.2e-7, 6e-8); below a float32 channel sum's rounding (~K·2^-24, 1.8e-6 at K = 30)
    assert via <= 2e-6


def test_tiles_cover_every_hit_once_with_a_partial_last_tile() -> None:
    group = np.array([4, 4, 2, 4, 2, 4, 4, 4, 9])
    table = np.array([1, 1, 0, 1, 0, 1, 1, 1, 3])
    tiles, tg, tt = make_tiles(group, table, 2)
    assert tiles.tolist() == [[2, 4], [0, 1], [3, 5], [6, 7], [8, -1]]
    assert tg.tolist() == [2, 4, 4, 4, 9] and tt.tolist() == [0, 1, 1, 1, 3]
    assert make_tiles(np.zeros(0, np.int64), np.zeros(0, np.int64), 8)[0].shape == (0, 8)
    assert tile_size(9, 30) == 8 and tile_size(40, 60) == 3
    with pytest.raises(ValueError, match="SHARED_TERMS"):
        tile_size(100, 100)


PTX = """
import sys
from types import SimpleNamespace
from numba import cuda, types as t
import numba.cuda.dispatcher as dispatcher
from gpsa.psa.kernels.cuda_tiled import tiled_fom_kernel, tiled_search_kernel
for cc, half in (((8, 0), True), ((9, 0), False)):
    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=cc)
    a1, a2, a3 = t.float32[::1], t.float32[:, ::1], t.int16[:, :, ::1]
    i1, i2 = t.int64[::1], t.int64[:, ::1]
    basis = (t.float16 if half else t.float32)[::1]
    head = (a3, t.float32, a1, a2, basis, i1, i1, i1, i2, i2, i1, i1, i1, i1, t.int64, t.float32)
    for name, k, tail in (("search", tiled_search_kernel, (i1, t.float64[::1])),
                          ("foms", tiled_fom_kernel, (t.float64[:, ::1],))):
        if half and name == "foms":
            continue  # the same scoring code as the search kernel (keeps the test short)
        ptx, _ = cuda.compile_ptx(k.py_func, head + tail, cc=cc)
        assert "shfl.sync" in ptx or name == "foms"
        open(f"{sys.argv[1]}/{name}_{cc[0]}{cc[1]}.ptx", "w").write(ptx)
"""


@pytest.mark.skipif(shutil.which("ptxas") is None, reason="ptxas not installed")
def test_gpu_branch_compiles_without_spills(tmp_path) -> None:  # noqa: ANN001
    """The device branch (shfl_down_sync, libdevice exp2f) through NVVM and ptxas."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    res = subprocess.run([sys.executable, "-c", PTX, str(tmp_path)], capture_output=True,
                         text=True, timeout=300, env=env)
    if res.returncode != 0 and "NVVM" in res.stderr and "not" in res.stderr.lower():
        pytest.skip(f"libNVVM not found: {res.stderr.strip().splitlines()[-1]}")
    assert res.returncode == 0, res.stderr[-3000:]
    for ptx in sorted(tmp_path.glob("*.ptx")):
        arch = f"sm_{ptx.stem.split('_')[1]}"
        out = subprocess.run(["ptxas", f"-arch={arch}", "-v", str(ptx), "-o",
                              str(tmp_path / "k")], capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr
        print(ptx.stem, [ln.strip() for ln in out.stderr.splitlines() if "Used" in ln
                         or "spill" in ln])
        assert "0 bytes spill stores, 0 bytes spill loads" in out.stderr


E2E = """
import json
import gpsa.psa.gpu_batch as gb
from gpsa.bench.gpu_check import make_blocks, toy_basis
from gpsa.psa import GridSearchPSA, PsaSettings
calls = {"search": 0, "foms": 0}
for name in calls:  # count the tiled launches
    def run(*a, _n=name, _f=getattr(gb, "launch_" + name), **k):
        calls[_n] += 1
        _f(*a, **k)
    setattr(gb, "launch_" + name, run)
basis = toy_basis()
for n, p, search in ((1, 1.0, "full"), (3, 0.3, "ags")):
    s = PsaSettings(samples=30, p=p, search=search, rank=0, refine_grid=False, refine_t0=False,
                    backend="gpu", gpu_kernel="tiled")
    psa = GridSearchPSA(basis, s).prepare()
    psa.backend.block_threads = 32
    h = psa.run(make_blocks(2, 1, n)[0]).hits
    print(json.dumps({"name": search, "x": h.x.tolist(), "y": h.y.tolist(), "z": h.z.tolist(),
                      "fom": h.fom.tolist(), "calls": dict(calls),
                      "bytes": psa.backend.device_bytes(),
                      "cat_bytes": int(psa.backend._cat.device["signals"].nbytes)}))
"""


@pytest.fixture(scope="module")
def e2e() -> dict[str, dict]:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run([sys.executable, "-c", E2E], capture_output=True, text=True, env=env,
                         timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    return {r["name"]: r for r in map(json.loads, res.stdout.splitlines())}


@pytest.mark.parametrize(("n", "p", "search"), [(1, 1.0, "full"), (3, 0.3, "ags")])
def test_tiled_backend_under_the_simulator_equals_numba_cpu(e2e: dict[str, dict], n: int,
                                                            p: float, search: str) -> None:
    r = e2e[search]
    s = PsaSettings(samples=30, p=p, search=search, rank=0, refine_grid=False, refine_t0=False)
    ref = GridSearchPSA(toy_basis(), s).run(make_blocks(2, 1, n)[0]).hits
    assert len(ref) == len(r["x"]) > 0
    assert ref.x.tolist() == r["x"] and ref.y.tolist() == r["y"] and ref.z.tolist() == r["z"]
    np.testing.assert_allclose(r["fom"], ref.fom, rtol=1e-5)
    # full: the tiled search kernel; ags: the tiled fom kernel (coarse stage), the fine stage
    # on the per-hit kernel
    assert r["calls"] == ({"search": 1, "foms": 0} if search == "full"
                          else {"search": 1, "foms": 6})
    assert r["bytes"] == 2 * r["cat_bytes"]  # both layouts resident, both counted


@pytest.mark.parametrize(("p", "search"), [(1.0, "full"), (0.3, "ags")])
def test_tiled_setting_on_the_numpy_host_path(basis, double_events, p: float,  # noqa: ANN001
                                              search: str) -> None:
    """Without CuPy and the simulator "tiled" batches and runs the xp stand-ins: the same hits
    as "numba", no transposed copy."""
    block, _ = double_events
    s = PsaSettings(samples=30, p=p, search=search, backend="gpu", refine_grid=False,
                    refine_t0=False)
    out = {}
    for kernel in ("numba", "tiled"):
        psa = GridSearchPSA(basis, s.replace(gpu_kernel=kernel)).prepare()
        assert psa.driver.batched
        out[kernel] = (psa.run(block).hits, psa.backend.device_bytes())
    (a, bytes_a), (b, bytes_b) = out["numba"], out["tiled"]
    for col in ("x", "y", "z", "fom", "status"):
        assert np.array_equal(getattr(a, col), getattr(b, col)), col
    assert bytes_a == bytes_b
