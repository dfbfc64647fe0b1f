from __future__ import annotations

import io
import subprocess
import sys

import pytest

from gpsa.device import cuda_unavailable_reason, select_device
from gpsa.errors import DeviceError

NO_CUDA = cuda_unavailable_reason() is not None


def test_cpu() -> None:
    dev = select_device("cpu")
    assert dev.kind == "cpu" and not dev.is_cuda and dev.xp.__name__ == "numpy"


@pytest.mark.skipif(not NO_CUDA, reason="a CUDA device is present")
def test_cuda_missing_is_one_line_device_error() -> None:
    with pytest.raises(DeviceError) as info:
        select_device("cuda")
    msg = str(info.value)
    assert msg.startswith("--device cuda: CUDA is not available (") and "\n" not in msg
    assert info.value.exit_code == 2


@pytest.mark.skipif(not NO_CUDA, reason="a CUDA device is present")
def test_auto_falls_back_to_cpu(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="gpsa.device")
    assert select_device("auto").kind == "cpu"
    assert "device auto: using cpu" in caplog.text


def test_auto_says_what_it_chose_in_one_line() -> None:
    stream = io.StringIO()
    dev = select_device("auto", stream=stream)
    line = stream.getvalue()
    assert line.count("\n") == 1 and line.startswith(f"gpsa: device auto: using {dev}")
    if NO_CUDA:
        assert line.startswith("gpsa: device auto: using cpu (CUDA not usable: ")


def test_auto_says_when_it_chose_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    import gpsa.device as device

    monkeypatch.setattr(device, "cuda_unavailable_reason", lambda index=0: None)
    monkeypatch.setattr(device, "_cuda_name", lambda index: "Fake GPU")
    stream = io.StringIO()
    assert select_device("auto", stream=stream).is_cuda
    assert stream.getvalue() == "gpsa: device auto: using cuda:0 (Fake GPU)\n"


def test_unknown_device() -> None:
    with pytest.raises(DeviceError, match="--device tpu: unknown device"):
        select_device("tpu")


def test_import_never_imports_cupy() -> None:
    code = ("import sys, gpsa, gpsa.psa, gpsa.device, gpsa.psa.gpu, gpsa.psa.cpu, gpsa.cli.bench;"
            "from gpsa.psa import GridSearchPSA;"
            "gpsa.device.select_device('cpu');"
            "print('cupy' in sys.modules, 'numba.cuda' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.parametrize(("request_", "want"), [("cpu", ("cpu", None)), ("auto", ("auto", None)),
                                                ("cuda", ("cuda", None)), ("cuda:1", ("cuda", 1)),
                                                ("cuda:12", ("cuda", 12))])
def test_parse_device(request_: str, want: tuple) -> None:
    from gpsa.device import parse_device

    assert parse_device(request_) == want


@pytest.mark.parametrize("bad", ["cuda:", "cuda:x", "cpu:0", "auto:1", "gpu", "cuda:-1"])
def test_parse_device_rejects(bad: str) -> None:
    with pytest.raises(DeviceError, match=f"--device {bad}: unknown device"):
        select_device(bad)


def test_cuda_index_reaches_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import gpsa.device as device

    asked: list[int] = []
    monkeypatch.setattr(device, "cuda_unavailable_reason",
                        lambda index=0: asked.append(index) or "1 CUDA device(s) found")
    with pytest.raises(DeviceError, match=r"^--device cuda:3: CUDA is not available \(1 CUDA"):
        select_device("cuda:3")
    assert asked == [3]


class _Fail:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __call__(self, *a: object, **k: object) -> None:
        raise self.exc


def _fake_cupy(*, driver: int = 13000, raw: Exception | None = None,
               blas: Exception | None = None, device: Exception | None = None):  # noqa: ANN202
    """numpy standing in for CuPy, with the chosen piece failing."""
    from types import SimpleNamespace

    import numpy as np

    def raw_kernel(src: str, name: str):  # noqa: ANN202
        if raw is not None:
            raise raw

        def run(grid: tuple, block: tuple, args: tuple) -> None:
            args[0][:] = 2.0 * np.arange(block[0])
        return run

    def use_device(i: int) -> SimpleNamespace:
        if device is not None:
            raise device
        return SimpleNamespace(use=lambda: None)

    stream = SimpleNamespace(synchronize=lambda: None, ptr=7)
    cuda = SimpleNamespace(runtime=SimpleNamespace(driverGetVersion=lambda: driver),
                           Device=use_device, get_current_stream=lambda: stream)
    return SimpleNamespace(cuda=cuda, zeros=np.zeros, ones=np.ones, float32=np.float32,
                           asnumpy=np.asarray, RawKernel=raw_kernel,
                           matmul=_Fail(blas) if blas is not None else np.matmul)


def test_smoke_check_passes_when_every_piece_works() -> None:
    from gpsa.device_smoke import smoke_check

    launched: list[int] = []
    assert smoke_check(_fake_cupy(), 0, numba_check=lambda cp: launched.append(1)) is None
    assert launched == [1]


@pytest.mark.parametrize(("kwargs", "numba_exc", "piece", "extra"), [
    ({"raw": RuntimeError("libnvrtc.so.13: cannot open shared object file\nmore")}, None,
     "NVRTC", "gpsa[cuda13]"),
    ({"blas": ImportError("libcublas.so.12 not found"), "driver": 12080}, None, "cuBLAS",
     "gpsa[cuda12]"),
    ({}, OSError("libNVVM cannot be found"), "NVVM", "gpsa[cuda13]"),
    ({"device": RuntimeError("cudaErrorNoDevice")}, None, "CUDA driver or device 0", None),
])
def test_smoke_check_names_the_missing_piece(kwargs: dict, numba_exc: Exception | None,
                                             piece: str, extra: str | None) -> None:
    from gpsa.device_smoke import smoke_check

    check = _Fail(numba_exc) if numba_exc is not None else (lambda cp: None)
    line = smoke_check(_fake_cupy(**kwargs), 0, numba_check=check)
    assert line is not None and "\n" not in line
    assert line.startswith(piece), line
    if extra is not None:
        assert line.endswith(f"pip install '{extra}'"), line


def test_broken_cupy_install_is_one_line_with_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import gpsa.device as device

    def broken(name: str) -> object:
        raise OSError("libcudart.so.12: cannot open shared object file\nsecond line")

    monkeypatch.setattr(device.importlib, "import_module", broken)
    reason = device.cuda_unavailable_reason()
    assert reason is not None and "\n" not in reason
    assert reason.startswith("cupy failed to import: OSError: libcudart.so.12") and \
        "gpsa[cuda12]" in reason
