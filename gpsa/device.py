"""Compute-device selection: the one place where gpsa decides between CPU and CUDA.

``select_device("cpu" | "cuda" | "cuda:N" | "auto")`` returns a :class:`Device`. CuPy is imported
here, lazily, only when CUDA is asked for (``import gpsa`` never imports it). Before a CUDA device
is accepted, :func:`gpsa.device_smoke.smoke_check` runs a tiny kernel (NVRTC), a cuBLAS product
and a numba.cuda launch on it. ``"cuda"`` without CuPy, without a usable device or with a piece
missing raises a one-line :class:`~gpsa.errors.DeviceError` naming the piece and the extra that
installs it (exit code 2 in the CLI);
``"auto"`` picks CUDA when usable, else the CPU, and says which it chose and why in one line
(``device auto: using cpu (CUDA not usable: …)``): written as ``gpsa: …`` to the ``stream`` the
caller passes (``gpsa run`` and ``gpsa bench`` pass stderr, so it shows at the default verbosity),
logged at INFO otherwise.

The array module of a device (``Device.xp``) is numpy for the CPU and cupy for CUDA; host code of
the GPU backend is written against it so the same lines run on numpy in tests.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import TextIO

from gpsa.errors import ConfigError, DeviceError

log = logging.getLogger(__name__)

DEVICE_KINDS = ("cpu", "cuda", "auto")
EXTRAS_HINT = "pip install 'gpsa[cuda12]' (CUDA 12 driver) or 'gpsa[cuda13]' (CUDA 13 driver)"


def parse_device(request: str) -> tuple[str, int | None]:
    """``"cpu"`` / ``"auto"`` / ``"cuda"`` / ``"cuda:N"`` → (kind, index or None)."""
    kind, sep, rest = str(request).partition(":")
    if kind not in DEVICE_KINDS or (sep and (kind != "cuda" or not rest.isdigit())):
        raise DeviceError(f"--device {request}: unknown device (choose cpu, cuda, cuda:N or auto)")
    return kind, (int(rest) if sep else None)


def device_problem(value: object) -> str | None:
    """Why ``value`` is not a device request (cpu, cuda, cuda:N, auto), or None (the run file's
    ``[run] device`` and every ``--device`` option check with this)."""
    try:
        parse_device(str(value))
    except DeviceError:
        return f"{value!r} is not a device (choose cpu, cuda, cuda:N or auto)"
    return None


@dataclass(frozen=True)
class Device:
    """A chosen compute device: ``kind`` is "cpu" or "cuda"; ``name`` is human-readable."""

    kind: str
    name: str
    index: int = 0

    @property
    def is_cuda(self) -> bool:
        return self.kind == "cuda"

    @property
    def xp(self) -> ModuleType:
        """The array module of this device (numpy or cupy), imported at call time."""
        if self.kind == "cuda":
            return importlib.import_module("cupy")
        return importlib.import_module("numpy")

    @property
    def request(self) -> str:
        """The ``--device`` value naming exactly this device (``cpu`` or ``cuda:N``), as recorded
        in provenance."""
        return f"cuda:{self.index}" if self.is_cuda else "cpu"

    def __str__(self) -> str:
        return f"{self.kind}:{self.index} ({self.name})" if self.is_cuda else "cpu"


def cuda_unavailable_reason(index: int = 0) -> str | None:
    """None if CUDA device ``index`` is usable through CuPy, else a short reason."""
    try:
        cupy = importlib.import_module("cupy")
    except ImportError:
        return f"cupy is not installed; {EXTRAS_HINT}"
    except Exception as exc:  # noqa: BLE001 - a broken cupy install must not crash the CLI
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"cupy failed to import: {type(exc).__name__}: {first}; {EXTRAS_HINT}"
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # noqa: BLE001 - CUDARuntimeError, driver missing, ...
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"no CUDA driver or device (install the NVIDIA driver): {first}"
    if count <= index:
        return f"{count} CUDA device(s) found, device {index} requested"
    return _smoke(index)


def visible_cuda_devices() -> int:
    """CUDA devices CuPy sees (0 without CuPy or a driver); no smoke check."""
    try:
        return int(importlib.import_module("cupy").cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001 - ImportError, driver missing, ...
        return 0


def assign_devices(request: str, n: int, gpus: Sequence[int], visible: int) -> list[str]:
    """The device of each of ``n`` workers (parallel-mode processes, batch workers of a host),
    round-robin: ``cuda`` (or ``auto`` resolved to CUDA by the caller) spreads over ``gpus``
    (``[run] gpus``; empty: the ``visible`` devices), ``cuda:N`` puts every worker on N, ``cpu``
    stays. ConfigError naming ``[run] gpus`` for a device that is not visible."""
    kind, index = parse_device(request)
    if kind == "cpu" or index is not None or visible == 0:
        return [request] * n  # nothing to spread (cuda without devices fails when selected)
    pool = list(gpus) or list(range(visible))
    bad = [g for g in pool if g >= visible]
    if bad:
        raise ConfigError(f"[run] gpus: device {bad[0]} is not visible ({visible} CUDA "
                          f"device(s): 0..{visible - 1})")
    return [f"cuda:{pool[i % len(pool)]}" for i in range(n)]


@lru_cache(maxsize=16)
def _smoke(index: int) -> str | None:
    """The smoke checks of device ``index``, run once per process."""
    from gpsa.device_smoke import smoke_check

    return smoke_check(importlib.import_module("cupy"), index)


def _cuda_name(index: int) -> str:
    cupy = importlib.import_module("cupy")
    try:
        props = cupy.cuda.runtime.getDeviceProperties(index)
        name = props.get("name", b"CUDA device")
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # noqa: BLE001 - the name is cosmetic
        return "CUDA device"


def select_device(request: str = "cpu", *, index: int = 0,
                  stream: TextIO | None = None) -> Device:
    """Resolve ``--device cpu|cuda|cuda:N|auto`` to a :class:`Device` (see module docstring;
    ``cuda:N`` overrides ``index``). ``stream``: where ``auto`` writes the line saying what it
    chose (None: log it at INFO)."""
    asked = request
    request, parsed = parse_device(request)
    index = index if parsed is None else parsed
    if request == "cpu":
        return Device("cpu", "cpu")
    reason = cuda_unavailable_reason(index)
    if reason is None:
        dev = Device("cuda", _cuda_name(index), index)
        if request == "auto":
            _say(f"device auto: using {dev}", stream)
        return dev
    if request == "cuda":
        raise DeviceError(f"--device {asked}: CUDA is not available ({reason})")
    _say(f"device auto: using cpu (CUDA not usable: {reason})", stream)
    return Device("cpu", "cpu")


def _say(line: str, stream: TextIO | None) -> None:
    if stream is None:
        log.info("%s", line)
    else:
        stream.write(f"gpsa: {line}\n")
        stream.flush()
