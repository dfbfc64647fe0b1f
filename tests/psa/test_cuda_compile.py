"""Every CUDA C source of gpsa compiles with nvcc for the GPUs it targets (sm_80 A100, sm_90
H100), in each variant the host selects (float32 and float16 basis), without register spills;
ptxas's register and spill report is attached to the test output (``-rA`` shows it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import gpsa

SOURCES = sorted(Path(gpsa.__file__).parent.rglob("*.cu"))
ARCHS = ["sm_80", "sm_90"]
VARIANTS = {"float32": [], "float16": ["-DGPSA_HALF_BASIS"]}

pytestmark = pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")


def ptxas_report(stderr: str) -> list[dict[str, int | str]]:
    """Per kernel: registers, spill stores and loads, static shared memory (bytes), from
    ``-Xptxas -v`` output."""
    out: list[dict[str, int | str]] = []
    for block in re.split(r"(?=ptxas info\s*: Compiling entry function)", stderr):
        name = re.search(r"Compiling entry function '(\w+)'", block)
        regs = re.search(r"Used (\d+) registers", block)
        spill = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", block)
        smem = re.search(r"(\d+) bytes smem", block)
        if name and regs and spill:
            out.append({"kernel": name.group(1), "registers": int(regs.group(1)),
                        "spill_stores": int(spill.group(1)), "spill_loads": int(spill.group(2)),
                        "smem": int(smem.group(1)) if smem else 0})
    return out


def test_there_is_a_cuda_source() -> None:
    assert [p.name for p in SOURCES] == ["grid_search.cu"]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_compiles_without_spills(tmp_path: Path, source: Path, arch: str, variant: str,
                                 record_property: pytest.RecordProperty) -> None:
    res = subprocess.run(["nvcc", "-cubin", f"-arch={arch}", "-Xptxas", "-v", *VARIANTS[variant],
                          "-o", str(tmp_path / "out.cubin"), str(source)],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    report = ptxas_report(res.stderr)
    record_property("ptxas", report)
    print(f"{source.name} {arch} {variant}: {report}")  # shown with -rA / -s
    assert report, res.stderr
    for kernel in report:
        assert kernel["spill_stores"] == 0 and kernel["spill_loads"] == 0, kernel
        assert int(kernel["smem"]) <= 48 * 1024, kernel  # static shared memory limit


def test_report_parser_reads_spills() -> None:
    text = ("ptxas info    : Compiling entry function 'k' for 'sm_90'\n"
            "ptxas info    : Function properties for k\n"
            "    8 bytes stack frame, 12 bytes spill stores, 4 bytes spill loads\n"
            "ptxas info    : Used 255 registers, 1024 bytes smem, 400 bytes cmem[0]\n")
    assert ptxas_report(text) == [{"kernel": "k", "registers": 255, "spill_stores": 12,
                                   "spill_loads": 4, "smem": 1024}]


NUMBA_PTX = """
import sys
from types import SimpleNamespace
from numba import cuda, types as t
import numba.cuda.dispatcher as dispatcher
from gpsa.psa.kernels.cuda_kernels import fom_kernel, search_kernel
cc, half, out = (int(sys.argv[1]), int(sys.argv[2])), sys.argv[3] == "1", sys.argv[4]
# device functions are compiled for the current device's cc: without a driver, name the target
dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=cc)
a1, a2, a3, i1 = t.float32[::1], t.float32[:, ::1], t.float32[:, :, ::1], t.int64[::1]
i2, f32, i64 = t.int64[:, ::1], t.float32, t.int64
basis = (t.float16 if half else t.float32)[::1]  # the concatenated tables, flat
head = (a3, f32, a1, a2, basis, i1, i1, i2, i2, t.int64[:, :], i1, i1)
ptx, _ = cuda.compile_ptx(search_kernel.py_func, head + (i1, i64, f32, i1, t.float64[::1]), cc=cc)
ptx2, _ = cuda.compile_ptx(fom_kernel.py_func, head + (i64, f32, t.float64[:, ::1]), cc=cc)
open(out, "w").write(ptx)
open(out + "2", "w").write(ptx2)
"""


@pytest.mark.skipif(shutil.which("ptxas") is None, reason="ptxas not installed")
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_numba_kernel_compiles_without_spills(tmp_path: Path, arch: str, variant: str) -> None:
    """The numba.cuda kernel through NVVM to PTX (as numba-cuda does on a GPU), then ptxas."""
    import os
    import sys

    ptx = tmp_path / "k.ptx"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    res = subprocess.run([sys.executable, "-c", NUMBA_PTX, arch[3], arch[4],
                          "1" if variant == "float16" else "0", str(ptx)],
                         capture_output=True, text=True, timeout=300, env=env)
    if res.returncode != 0 and "NVVM" in res.stderr and "not" in res.stderr.lower():
        pytest.skip(f"libNVVM not found: {res.stderr.strip().splitlines()[-1]}")
    assert res.returncode == 0, res.stderr[-3000:]
    for name, path in (("search_kernel", ptx), ("fom_kernel", Path(f"{ptx}2"))):
        res = subprocess.run(["ptxas", f"-arch={arch}", "-v", str(path), "-o",
                              str(tmp_path / "k")], capture_output=True, text=True, timeout=180)
        assert res.returncode == 0, res.stderr
        report = [dict(k, kernel=name) for k in ptxas_report(res.stderr)
                  if name in str(k["kernel"])]
        print(f"cuda_kernels.{name} {arch} {variant}: {report}")
        assert report, res.stderr
        for kernel in report:
            assert kernel["spill_stores"] == 0 and kernel["spill_loads"] == 0, kernel
