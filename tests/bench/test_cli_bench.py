"""``gpsa bench`` from the command line: the CUDA error path and a tiny run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpsa.cli.main import main
from gpsa.device import cuda_unavailable_reason


@pytest.mark.skipif(cuda_unavailable_reason() is None, reason="a CUDA device is present")
def test_device_cuda_without_cuda_is_one_line_exit_2() -> None:
    res = subprocess.run([sys.executable, "-m", "gpsa.cli.main", "bench", "--device", "cuda"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("gpsa: error: --device cuda: CUDA is not available (")
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_device_auto_says_its_choice_at_default_verbosity(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--device", "auto", "--psa", "no-such-psa"]) == 2  # stops before work
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("gpsa: device auto: using ")


def test_tiny_bench_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "psa.json"
    code = main(["bench", "--source", "toy-small", "--events", "60", "--reference-events", "30",
                 "--samples", "30", "--repeat", "1", "--output", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert {r["backend"] for r in data["speed"]} == {"reference", "numba"}
    assert all(r["searches_per_s"] > 0 for r in data["speed"])
    full = [r for r in data["speed"] if r["search"] == "full" and not r["shortlist"]]
    assert all(r["agreement"] >= 0.999 for r in full)
    assert "gemm_gflops" in data["roofline"] and "machine" in data
    assert "PSA speed" in capsys.readouterr().out
