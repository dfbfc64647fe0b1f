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
