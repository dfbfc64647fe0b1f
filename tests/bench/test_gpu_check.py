"""``gpsa check gpu`` on a machine without a GPU: the numpy host path and the CUDA simulator, a
JSON report, exit 1 on a disagreement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gpsa.bench.gpu_check import Variant, all_variants, quick_variants
from gpsa.cli.main import main
from gpsa.device import cuda_unavailable_reason

NO_CUDA = cuda_unavailable_reason() is not None


def test_variant_matrix_covers_every_axis() -> None:
    full = all_variants(["numba", "raw"])
    assert len(full) == 2 * 2 * (4 * 3 - 1) * 2  # p = 2 has no separate shortlist variant
    for variants in (full, quick_variants(["numba", "raw"])):
        assert {v.kernel for v in variants} == {"numba", "raw"}
        assert {v.basis_dtype for v in variants} == {"float32", "float16"}
        assert {v.p for v in variants} == {2.0, 1.0, 0.5, 0.3}
        assert {v.search for v in variants} == {"full", "ags", "shortlist"}
        assert {v.interactions for v in variants} == {1, 3}
        assert {v.refine for v in variants} == {True, False}


def test_variant_settings() -> None:
    v = Variant("raw", "float16", 0.3, "shortlist", 3, False)
    g, c = v.settings("gpu"), v.settings("numba")
    assert (g.gpu_kernel, g.gpu_basis_dtype, g.shortlist, g.rank) == ("raw", "float16", 16, 0)
    assert (c.backend, c.shortlist, c.rank, c.search) == ("numba", 16, 0, "full")


@pytest.mark.skipif(not NO_CUDA, reason="a CUDA device is present")
def test_check_gpu_without_a_gpu(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    res = subprocess.run([sys.executable, "-m", "gpsa.cli.main", "check", "gpu", "--quick",
                          "--events", "24", "--out", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "numpy host path / CUDA simulator" in res.stdout
    assert "gpsa check gpu: ok:" in res.stdout
    report = json.loads(out.read_text())
    assert report["ok"] and report["device"]["gpu"] == "numpy host path / CUDA simulator"
    assert report["device"]["cupy"] is None and report["kernels"] == ["numba"]
    assert len(report["variants"]) == len(quick_variants(["numba"]))
    assert {r["mode"] for r in report["simulator"]} == {"CUDA simulator"}
    assert len(report["simulator"]) == len(report["variants"])
    for row in report["variants"] + report["simulator"]:
        b = row["per_block"]
        assert row["ok"] and row["hits"] > 0
        assert b["d2h"] == b["syncs"] > 0 and b["launches"] >= b["d2h"]
        if row["refine"] and row in report["simulator"]:
            # the device refiner: one upload per call, plus its resident basis tables once
            assert b["h2d"] > b["d2h"]
        else:
            assert b["h2d"] == b["d2h"]
    assert "one call per segment and loop step -> batched" in res.stdout
    counts = report["launch_counts"]
    assert {(r["interactions"], r["search"]) for r in counts} == {
        (n, s) for n in (1, 3) for s in ("full", "ags")}
    for r in counts:
        before, after = r["per_segment"], r["batched"]
        steps = after["h2d"]  # one upload per loop step
        assert after["d2h"] == after["syncs"] == steps and after["launches"] <= 3 * steps
        assert steps == 1 if r["interactions"] == 1 else 1 < steps <= 6  # 3 ranks x 2 passes
        assert before["h2d"] > after["h2d"] and before["launches"] > after["launches"]
    t = report["timing"]
    assert t["numba"]["hits"] == t["gpu"]["hits"] > 0
    assert "not a GPU speed" in t["gpu_is"]


def test_check_gpu_exits_1_on_a_disagreement(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import gpsa.psa.gpu as gpu
    import gpsa.psa.gpu_batch as gpu_batch

    real = gpu.exact_xp

    def off_by_a_percent(*args: Any) -> None:
        real(*args)
        fom = args[-1]
        fom *= np.float64(1.01)  # every fom 1 % off: beyond every tolerance

    for module in (gpu, gpu_batch):  # the per-segment and the batched search
        monkeypatch.setattr(module, "exact_xp", off_by_a_percent)
    out = tmp_path / "bad.json"
    code = main(["check", "gpu", "--device", "cpu", "--quick", "--events", "12",
                 "--no-simulator", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 1
    assert "gpsa check gpu: FAIL" in text and "disagree:" in text
    assert json.loads(out.read_text())["ok"] is False
