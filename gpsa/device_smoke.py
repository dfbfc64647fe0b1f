"""What ``--device cuda`` checks before any work starts: the pieces a GPU run needs, each tried
once, in the order a run would need them, so a missing one is named in one line instead of
surfacing as a traceback from the first kernel.

1. **driver**: CuPy sees the device (``getDeviceCount``, the driver version);
2. **NVRTC**: a tiny CuPy RawKernel is compiled and run (CuPy compiles every kernel at run time);
3. **cuBLAS**: an 8 x 8 float32 matrix product through CuPy;
4. **NVVM**: a tiny numba.cuda kernel is compiled (numba-cuda needs libNVVM) and launched on
   CuPy's current stream.

:func:`smoke_check` returns None when all pass, else ``"<piece> ...: <first line of the error>;
pip install 'gpsa[cudaNN]'"`` naming the extra that installs the piece for this driver (CuPy's
``[ctk]`` wheels bring NVRTC and cuBLAS, ``numba-cuda[cuNN]`` brings NVVM). The CuPy module and
the numba launch are parameters so the tests can make each piece fail without a GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_SMOKE_SOURCE = r"""
extern "C" __global__ void gpsa_smoke(float* x) { x[threadIdx.x] = 2.0f * threadIdx.x; }
"""


def extra_for(cupy: Any) -> str:
    """The gpsa extra matching the installed driver: cuda13 for a CUDA 13 driver, else cuda12."""
    try:
        version = int(cupy.cuda.runtime.driverGetVersion())
    except Exception:  # noqa: BLE001 - no driver: say both
        return "gpsa[cuda12]' or 'gpsa[cuda13]"
    return "gpsa[cuda13]" if version >= 13000 else "gpsa[cuda12]"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def numba_launch(cupy: Any) -> None:
    """Compile and launch a one-thread numba.cuda kernel on CuPy's current stream."""
    from numba import cuda

    @cuda.jit
    def fill(out):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
        out[cuda.threadIdx.x] = cuda.threadIdx.x + 1

    out = cupy.zeros(4, dtype=cupy.float32)
    stream = cuda.external_stream(cupy.cuda.get_current_stream().ptr)
    fill[1, 4, stream](out)
    cupy.cuda.get_current_stream().synchronize()
    if [float(v) for v in cupy.asnumpy(out)] != [1.0, 2.0, 3.0, 4.0]:
        raise RuntimeError(f"numba.cuda kernel wrote {cupy.asnumpy(out).tolist()}")


def _nvrtc(cupy: Any) -> None:
    x = cupy.zeros(4, dtype=cupy.float32)
    cupy.RawKernel(_SMOKE_SOURCE, "gpsa_smoke")((1,), (4,), (x,))
    cupy.cuda.get_current_stream().synchronize()
    if [float(v) for v in cupy.asnumpy(x)] != [0.0, 2.0, 4.0, 6.0]:
        raise RuntimeError(f"smoke kernel wrote {cupy.asnumpy(x).tolist()}")


def _cublas(cupy: Any) -> None:
    a = cupy.ones((8, 8), dtype=cupy.float32)
    c = cupy.matmul(a, a)
    cupy.cuda.get_current_stream().synchronize()
    if float(cupy.asnumpy(c).max()) != 8.0:
        raise RuntimeError("an 8x8 product of ones is not 8")


def smoke_check(cupy: Any, index: int = 0,
                numba_check: Callable[[Any], None] = numba_launch) -> str | None:
    """None when device ``index`` runs all four pieces (module docstring), else one line."""
    extra = extra_for(cupy)
    steps: list[tuple[str, Callable[[], None]]] = [
        ("NVRTC (CUDA run-time compiler) failed", lambda: _nvrtc(cupy)),
        ("cuBLAS failed", lambda: _cublas(cupy)),
        ("NVVM / numba-cuda failed (numba.cuda kernel)", lambda: numba_check(cupy)),
    ]
    try:
        device = cupy.cuda.Device(index)
        device.use()
    except Exception as exc:  # noqa: BLE001 - the driver refused the device
        return f"CUDA driver or device {index} not usable: {_first_line(exc)}"
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - any failure becomes the one line
            return f"{what}: {_first_line(exc)}; pip install '{extra}'"
    return None
