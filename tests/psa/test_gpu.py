"""GPU backend without a GPU, through the engine: host code on numpy with reduced-precision
storage and transfers, and the numba.cuda kernel under the CUDA simulator (in a subprocess:
NUMBA_ENABLE_CUDASIM must be set before numba.cuda is imported). The kernel alone:
test_gpu_sim.py; host code: test_gpu_host.py; the CUDA sources compiled: test_cuda_compile.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gpsa.psa import GridSearchPSA, PsaSettings

SAMPLES = 30


@pytest.mark.parametrize(("basis_dtype", "transfer"), [("float16", "float32"),
                                                       ("float32", "float16"),
                                                       ("float32", "int16")])
def test_reduced_precision_paths(basis, single_events, basis_dtype: str, transfer: str) -> None:  # noqa: ANN001
    block, _ = single_events
    ref = GridSearchPSA(basis, PsaSettings(samples=SAMPLES, backend="reference")).run(block).hits
    s = PsaSettings(samples=SAMPLES, backend="gpu", gpu_basis_dtype=basis_dtype,
                    transfer_dtype=transfer)
    psa = GridSearchPSA(basis, s)
    hits = psa.run(block).hits
    agree = np.mean((hits.x == ref.x) & (hits.y == ref.y) & (hits.z == ref.z))
    assert agree >= 0.95
    assert psa.backend.device_bytes() > 0


SIM_SCRIPT = textwrap.dedent("""
    import numpy as np
    from gpsa.psa import GridSearchPSA, PsaSettings
    from gpsa.bench.toy import ToyCrystal, simulate_events, toy_basis
    c = ToyCrystal.small()
    basis = toy_basis(c, n_samples=40, t0_sample=5)
    block, _ = simulate_events(c, 6, n_samples=60, noise=0.01, interactions=2, seed=3)
    for p, search, shortlist in ((0.3, "ags", 0), (2.0, "full", 0), (0.3, "full", 8)):
        out = {}
        for backend in ("reference", "gpu"):
            s = PsaSettings(samples=12, p=p, search=search, backend=backend, iterations=2,
                            shortlist=shortlist if backend == "gpu" else 0,
                            refine_grid=False, refine_t0=False)
            psa = GridSearchPSA(basis, s)
            if backend == "gpu":
                psa.backend.block_threads = 16  # 16 Python threads per block: a quicker simulator
            out[backend] = psa.run(block).hits
        import gpsa.psa.kernels.cuda_kernels  # the kernel really ran under the simulator
        a, b = out["reference"], out["gpu"]
        same = (a.x == b.x) & (a.y == b.y) & (a.z == b.z)
        print(p, search, shortlist, same.mean(),
              float(np.max(np.abs(a.fom[same] - b.fom[same]) / a.fom[same])))
""")


def test_numba_cuda_kernel_under_simulator() -> None:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", GPSA_NUMBA_CACHE="0")
    res = subprocess.run([sys.executable, "-c", SIM_SCRIPT], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    for line in res.stdout.strip().splitlines():
        p, search, shortlist, agree, rel = line.split()
        if shortlist == "0":
            assert float(agree) == 1.0, line
        else:
            assert float(agree) >= 0.8, line
        assert float(rel) < 1e-4, line
