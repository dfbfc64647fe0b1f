"""The numba.cuda search kernel itself under the CUDA simulator, against a naive numpy search.

One subprocess (NUMBA_ENABLE_CUDASIM must be set before numba.cuda is imported) runs every case
and prints one JSON line per case; the tests below check each. Cases are built so a kernel bug
shows: candidate lists longer than the block (each thread scores several candidates, then the
multi-candidate tree reduction), every p branch (2, 1, 0.5 and the general power), switched-off
channels and a visiting order that makes the early exit bite, ties (the earlier candidate must
win), float16 basis storage, and empty candidate lists; and the concatenated layout of the
batched search: two tables of different channel counts in one launch, several groups per hit
with the lead point, int16 targets with a scale, an empty list, and the fom kernel's rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    from gpsa.psa.kernels.cuda_kernels import launch, launch_foms
    from gpsa.psa.kernels.cpu_kernels import p_mode

    def one_table(t, e, w, sig, order, ptr, idx, group, mode, p, best, fom, threads):
        # the kernel's concatenated layout for a single table (table 0, one group per hit)
        m = t.shape[0]
        info = np.stack([np.zeros(m, np.int64), group, np.zeros(m, np.int64),
                         np.ones(m, np.int64)])
        launch(t, 1.0, e, w, sig.reshape(-1), np.zeros(1, np.int64),
               np.array([sig.shape[1]], np.int64), order[None, :], info, info.T, ptr, idx,
               np.full(1, -1, np.int64), mode, p, best, fom, threads=threads)

    def naive(t, e, w, sig, ptr, idx, group, p):
        best, fom = [], []
        for h in range(t.shape[0]):
            c = idx[ptr[group[h]]:ptr[group[h] + 1]]
            if c.size == 0:
                best.append(-1); fom.append(float("inf")); continue
            d = np.abs(t[h][None] - np.float32(e[h]) * sig[c].astype(np.float32))
            f = ((d.astype(np.float64) ** p).sum(axis=2) * w[h][None]).sum(axis=1)
            j = int(np.argmin(f))
            best.append(int(c[j])); fom.append(float(f[j]))
        return np.array(best), np.array(fom)

    def case(name, p, threads, n_cand, dtype="float32", ties=False, empty=False, seed=0):
        rng = np.random.default_rng(seed)
        m, n_ch, n_k, n_pts = 5, 4, 6, max(n_cand, 1) + 3
        sig = rng.normal(size=(n_pts, n_ch, n_k)).astype(np.float32)
        if ties:  # candidate 5 duplicates candidate 0: with 4 threads they meet in the tree
            sig[5] = sig[0]
        sig = sig.astype(dtype)
        e = rng.uniform(100.0, 1400.0, m).astype(np.float32)
        truth = rng.integers(0, n_cand, m)
        t = (e[:, None, None] * sig[truth].astype(np.float32)
             + rng.normal(scale=5.0, size=(m, n_ch, n_k))).astype(np.float32)
        if ties:
            t[0] = e[0] * sig[0].astype(np.float32)
        w = np.ones((m, n_ch), np.float32)
        w[1, 2] = 0.0  # a channel of another hit segment, switched off
        w[3, 0] = 0.0
        order = np.array([2, 0, 3, 1], np.int64)
        idx = np.arange(n_cand, dtype=np.int64)
        ptr = np.array([0, 0 if empty else idx.size], np.int64)
        group = np.zeros(m, np.int64)
        best = np.full(m, -7, np.int64)
        fom = np.full(m, np.nan)
        one_table(t, e, w, sig, order, ptr, idx, group, p_mode(p), p, best, fom, threads)
        want_b, want_f = naive(t, e, w, sig, ptr, idx, group, p)
        print(json.dumps({"name": name, "best": best.tolist(), "want_best": want_b.tolist(),
                          "fom": [float(x) for x in fom], "want_fom": want_f.tolist()}))

    case("p2_multi", 2.0, 8, 70)
    case("p1_multi", 1.0, 8, 70, seed=1)
    case("p05_multi", 0.5, 4, 33, seed=2)
    case("p03_multi", 0.3, 8, 70, seed=3)
    case("p03_block_of_one", 0.3, 1, 20, seed=4)
    case("float16", 1.0, 8, 50, dtype="float16", seed=5)
    case("ties", 2.0, 4, 12, ties=True, seed=6)
    case("empty", 1.0, 8, 10, empty=True, seed=7)

    def concatenated(p, threads, seed=8):
        # two tables (4 and 3 channels) in one flat array; hits of both in one launch: full
        # groups, several fine groups with a lead point, int16 targets with a scale; and the fom
        # kernel's rows against each hit's first group
        rng = np.random.default_rng(seed)
        n_k, pts = 5, (30, 24)
        sigs = [rng.normal(size=(pts[0], 4, n_k)).astype(np.float32),
                rng.normal(size=(pts[1], 3, n_k)).astype(np.float32)]
        flat = np.concatenate([x.reshape(-1) for x in sigs])
        sig_off = np.array([0, sigs[0].size], np.int64)
        nch = np.array([4, 3], np.int64)
        order = np.array([[1, 0, 3, 2], [2, 0, 1, 0]], np.int64)
        # groups: 0 all of table 0, 1 all of table 1, 2..4 three lists of table 1, 5 empty
        lists = [np.arange(30), np.arange(24), np.arange(0, 12), np.arange(8, 20),
                 np.arange(16, 24), np.zeros(0, np.int64)]
        ptr = np.concatenate([[0], np.cumsum([x.size for x in lists])]).astype(np.int64)
        idx = np.concatenate(lists).astype(np.int64)
        lead = np.array([-1, -1, 10, 14, 18, -1], np.int64)
        tab = np.array([0, 1, 1, 0, 1, 1, 1])
        info = np.array([tab, [0, 1, 2, 0, 2, 3, 5], [0, 0, 1, 0, 1, 0, 0],
                         [1, 1, 2, 1, 3, 1, 1]], np.int64)
        sel = np.array([[0, 0, 0], [0, 0, 0], [2, 0, 0], [0, 0, 0], [1, 2, 0], [0, 0, 0],
                        [0, 0, 0]], np.int64)
        m = tab.size
        e = rng.uniform(100.0, 1400.0, m).astype(np.float32)
        t = np.zeros((m, 4, n_k), np.float32)
        w = np.zeros((m, 4), np.float32)
        for h in range(m):
            c = int(nch[tab[h]])
            truth = rng.integers(0, pts[tab[h]])
            t[h, :c] = e[h] * sigs[tab[h]][truth] + rng.normal(scale=3.0, size=(c, n_k))
            w[h, :c] = 1.0
        w[2, 1] = 0.0
        scale = float(np.abs(t).max()) / 32000.0
        q = np.rint(t / scale).astype(np.int16)
        tq = q.astype(np.float32) * np.float32(scale)
        best = np.full(m, -7, np.int64)
        fom = np.full(m, np.nan)
        launch(q, scale, e, w, flat, sig_off, nch, order, info, sel, ptr, idx, lead, p_mode(p),
               p, best, fom, threads=threads)
        want_b, want_f, rows = [], [], []
        for h in range(m):
            groups = [info[1, h] + info[2, h] * sel[h, i] for i in range(info[3, h])]
            scan = ([lead[groups[0]]] if info[3, h] > 1 and lead[groups[0]] >= 0 else [])
            scan += [j for g in groups for j in idx[ptr[g]:ptr[g + 1]]]
            s_ = sigs[tab[h]]
            c = s_.shape[1]
            def f_of(cands):
                d = np.abs(tq[h, :c][None] - e[h] * s_[np.asarray(cands, np.int64)])
                return ((d.astype(np.float64) ** p).sum(axis=2) * w[h, :c][None]).sum(axis=1)
            if not scan:
                want_b.append(-1); want_f.append(float("inf"))
            else:
                f = f_of(scan)
                j = int(np.argmin(f))
                want_b.append(int(scan[j])); want_f.append(float(f[j]))
            g0 = groups[0]
            c0 = idx[ptr[g0]:ptr[g0 + 1]]
            rows.append([float(x) for x in f_of(c0)] if c0.size else [])
        print(json.dumps({"name": f"concat_p{p}", "best": best.tolist(), "want_best": want_b,
                          "fom": [float(x) for x in fom], "want_fom": want_f}))
        out = np.full((m, 30), np.nan)
        launch_foms(q, scale, e, w, flat, sig_off, nch, order, info, sel, ptr, idx, p_mode(p),
                    p, out, threads=threads)
        got = [[float(x) for x in r] for r in out]
        want = [r + [float("inf")] * (30 - len(r)) for r in rows]
        print(json.dumps({"name": f"foms_p{p}", "best": [0], "want_best": [0],
                          "fom": sum(got, []), "want_fom": sum(want, [])}))

    concatenated(1.0, 4)
    concatenated(0.3, 8, seed=9)
""")

CASES = ["p2_multi", "p1_multi", "p05_multi", "p03_multi", "p03_block_of_one", "float16", "ties",
         "empty", "concat_p1.0", "foms_p1.0", "concat_p0.3", "foms_p0.3"]


@pytest.fixture(scope="module")
def sim_results() -> dict[str, dict]:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", GPSA_NUMBA_CACHE="0")
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                         timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return {r["name"]: r for r in rows}


@pytest.mark.parametrize("name", CASES)
def test_kernel_matches_naive_search(sim_results: dict[str, dict], name: str) -> None:
    r = sim_results[name]
    assert r["best"] == r["want_best"], r
    for got, want in zip(r["fom"], r["want_fom"], strict=True):
        if want == float("inf"):
            assert got == float("inf"), r
        else:
            assert abs(got - want) <= 2e-5 * abs(want) + 1e-6, r


def test_ties_pick_the_earlier_candidate(sim_results: dict[str, dict]) -> None:
    # hit 0 equals candidate 0 exactly, and so does its duplicate, candidate 5
    assert sim_results["ties"]["best"][0] == 0


def test_empty_lists_give_minus_one_and_inf(sim_results: dict[str, dict]) -> None:
    r = sim_results["empty"]
    assert r["best"] == [-1] * 5 and all(f == float("inf") for f in r["fom"])
