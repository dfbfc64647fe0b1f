"""The GPU backend on a real CUDA device (skipped where none is usable, e.g. in CI): both kernels
and basis dtypes against the numba CPU backend, and the numba kernel launched on CuPy's current
stream. ``gpsa check gpu`` runs the full matrix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gpsa.device import cuda_unavailable_reason

REASON = cuda_unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no usable CUDA device: {REASON}")

SAMPLES = 30


@pytest.mark.parametrize("kernel", ["numba", "raw"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("p", [2.0, 1.0, 0.3])
def test_cuda_backend_matches_numba(basis, double_events, kernel: str, dtype: str,  # noqa: ANN001
                                    p: float) -> None:
    from gpsa.psa import GridSearchPSA, PsaSettings

    block, _ = double_events
    s = PsaSettings(samples=SAMPLES, p=p, rank=0, refine_grid=False, refine_t0=False)
    cpu = GridSearchPSA(basis, s.replace(backend="numba")).run(block).hits
    gpu = GridSearchPSA(basis, s.replace(backend="gpu", gpu_kernel=kernel,
                                         gpu_basis_dtype=dtype), device="cuda").run(block).hits
    same = (gpu.x == cpu.x) & (gpu.y == cpu.y) & (gpu.z == cpu.z)
    assert same.mean() >= (0.99 if dtype == "float32" else 0.95)
    if dtype == "float32":
        np.testing.assert_allclose(gpu.fom[same], cpu.fom[same], rtol=1e-4)


def test_numba_kernel_runs_on_cupys_current_stream(basis, single_events,  # noqa: ANN001
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import cupy

    import gpsa.psa.gpu as gpu
    from gpsa.psa import GridSearchPSA, PsaSettings

    seen: list[tuple[int, int]] = []
    real = gpu.launch_numba

    def record(*args: Any, stream: Any, threads: int) -> None:
        handle = getattr(stream.handle, "value", stream.handle)
        seen.append((int(handle), int(cupy.cuda.get_current_stream().ptr)))
        real(*args, stream=stream, threads=threads)

    monkeypatch.setattr(gpu, "launch_numba", record)
    block, _ = single_events
    GridSearchPSA(basis, PsaSettings(samples=SAMPLES, backend="gpu", refine_grid=False,
                                     refine_t0=False), device="cuda").run(block)
    assert seen and all(launch == current != 0 for launch, current in seen)
