"""Streams, pinned staging buffers, packed transfers and counters of the GPU backend.

Host code of :mod:`gpsa.psa.gpu` is written against an array module ``xp`` (numpy or cupy); this
module holds what differs between the two, so the same lines run on numpy in tests:

* **streams**: ``N_STREAMS`` non-blocking CuPy streams used in turn (one per search call,
  :meth:`DeviceContext.stream`); numba.cuda kernels are launched on the *current CuPy stream*
  (:meth:`DeviceContext.numba_stream`, ``cuda.external_stream(ptr)``), never on the legacy
  default stream, so a download on the CuPy stream cannot overtake the kernel. On numpy (and
  under the CUDA simulator, which is synchronous) the stream is ``0``.
* **pinned staging**: one pinned host buffer per stream slot, grown when a call needs more and
  otherwise reused. After the asynchronous host-to-device copy from it an event is recorded on
  the stream, and the next use of the slot synchronises that event before writing, so a buffer
  is never overwritten (or freed, since the slot keeps it referenced) while a copy reads it.
* **packed transfers**: every array a search sends goes into one staging buffer and one device
  buffer (one copy); every result comes back in one device buffer (one copy, one host sync).
* **counters** (:class:`TransferCounters`): launches (each device operation issued: kernels,
  matrix products, sorts and selections, elementwise and gather steps of the ``xp`` code), host
  to device and device to host copies with their bytes, and host synchronisations. Counted the
  same way on numpy and on a GPU, so tests read them on the numpy path.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

N_STREAMS = 2
#: Byte alignment of each array inside a packed buffer (covers every dtype used).
ALIGN = 16


@dataclass
class TransferCounters:
    """Device work issued by the host code since the last :meth:`reset` (module docstring)."""

    launches: int = 0
    h2d: int = 0
    d2h: int = 0
    h2d_bytes: int = 0
    d2h_bytes: int = 0
    syncs: int = 0
    staging_allocs: int = 0

    def reset(self) -> None:
        for name in asdict(self):
            setattr(self, name, 0)

    def snapshot(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Slot:
    """Pinned staging buffer of one stream slot and the event of its last copy."""

    buffer: np.ndarray | None = None
    event: Any = None


def _offsets(specs: Sequence[tuple[tuple[int, ...], np.dtype]]) -> tuple[list[int], int]:
    offsets, total = [], 0
    for shape, dtype in specs:
        offsets.append(total)
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        total += -(-nbytes // ALIGN) * ALIGN
    return offsets, max(total, ALIGN)


def _views(buf: Any, specs: Sequence[tuple[tuple[int, ...], np.dtype]],
           offsets: list[int]) -> list[Any]:
    out = []
    for (shape, dtype), off in zip(specs, offsets, strict=True):
        n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        out.append(buf[off:off + n].view(dtype).reshape(shape))
    return out


def external_stream(ptr: int) -> Any:
    """numba.cuda's view of a foreign (CuPy) stream; a seam the tests replace."""
    from numba import cuda

    return cuda.external_stream(ptr)


class DeviceContext:
    """Streams, staging and transfers for an array module (module docstring)."""

    def __init__(self, xp: Any, index: int = 0) -> None:
        self.xp = xp
        self.is_cupy = xp.__name__ == "cupy"
        self.counters = TransferCounters()
        if self.is_cupy:
            xp.cuda.Device(index).use()  # streams, buffers and kernels on device ``index``
        self._streams = ([xp.cuda.Stream(non_blocking=True) for _ in range(N_STREAMS)]
                         if self.is_cupy else [None] * N_STREAMS)
        self._slots = [_Slot() for _ in range(N_STREAMS)]
        self._next = 0
        self._current = 0

    @contextlib.contextmanager
    def stream(self) -> Iterator[Any]:
        """Make the next stream slot current (the CuPy stream entered; None on numpy)."""
        self._current = self._next
        self._next = (self._next + 1) % N_STREAMS
        s = self._streams[self._current]
        if s is None:
            yield None
        else:
            with s:
                yield s

    def numba_stream(self) -> Any:
        """The stream a numba.cuda kernel is launched on: CuPy's current stream (0 on numpy and
        under the simulator)."""
        if not self.is_cupy:
            return 0
        return external_stream(self.xp.cuda.get_current_stream().ptr)

    def launched(self, n: int = 1) -> None:
        """Count ``n`` device operations issued by the host code."""
        self.counters.launches += n

    def _pinned(self, nbytes: int) -> np.ndarray:
        self.counters.staging_allocs += 1
        if self.is_cupy:
            return importlib.import_module("cupyx").empty_pinned((nbytes,), dtype=np.uint8)
        return np.empty(nbytes, np.uint8)

    def _staging(self, nbytes: int) -> np.ndarray:
        """The current slot's buffer, at least ``nbytes``, once its previous copy is done."""
        slot = self._slots[self._current]
        if slot.event is not None:
            slot.event.synchronize()
            self.counters.syncs += 1
            slot.event = None
        if slot.buffer is None or slot.buffer.nbytes < nbytes:
            slot.buffer = self._pinned(max(nbytes, 2 * (0 if slot.buffer is None
                                                        else slot.buffer.nbytes)))
        return slot.buffer

    def upload(self, arrays: Sequence[tuple[np.ndarray, Any]]) -> list[Any]:
        """Send ``(host array, dtype)`` pairs in one copy; returns device arrays (views of one
        device buffer) in the given dtypes."""
        specs = [(tuple(a.shape), np.dtype(d)) for a, d in arrays]
        offsets, total = _offsets(specs)
        staging = self._staging(total)
        for (a, _), view in zip(arrays, _views(staging, specs, offsets), strict=True):
            view[...] = a
        self.counters.h2d += 1
        self.counters.h2d_bytes += total
        if self.is_cupy:
            stream = self.xp.cuda.get_current_stream()
            dev = self.xp.empty(total, dtype=self.xp.uint8)
            dev.set(staging[:total], stream=stream)
            event = self.xp.cuda.Event()
            event.record(stream)
            self._slots[self._current].event = event
        else:
            dev = staging[:total].copy()  # the "device" buffer must not alias the staging
        return _views(dev, specs, offsets)

    def empty(self, specs: Sequence[tuple[tuple[int, ...], Any]]) -> tuple[Any, list[Any]]:
        """One device buffer holding arrays of the given (shape, dtype): (buffer, views)."""
        specs = [(tuple(s), np.dtype(d)) for s, d in specs]
        offsets, total = _offsets(specs)
        buf = self.xp.empty(total, dtype=self.xp.uint8)
        return buf, _views(buf, specs, offsets)

    def download(self, buf: Any, specs: Sequence[tuple[tuple[int, ...], Any]]) -> list[np.ndarray]:
        """Copy a buffer made by :meth:`empty` to the host (one copy, one host sync) and return
        host views in the same layout."""
        specs = [(tuple(s), np.dtype(d)) for s, d in specs]
        offsets, _ = _offsets(specs)
        host = self.xp.asnumpy(buf) if self.is_cupy else np.array(buf)
        self.counters.d2h += 1
        self.counters.d2h_bytes += int(buf.nbytes)
        self.counters.syncs += 1
        return _views(host, specs, offsets)

    def resident(self, host: np.ndarray, dtype: Any = None) -> Any:
        """A device copy kept for the backend's lifetime (basis tables: once per segment)."""
        arr = np.ascontiguousarray(host if dtype is None else host.astype(dtype))
        self.counters.h2d += 1
        self.counters.h2d_bytes += int(arr.nbytes)
        return self.xp.asarray(arr) if self.is_cupy else arr

    def synchronize(self) -> None:
        """Wait for all work on the device (before a clock stops)."""
        if self.is_cupy:
            self.xp.cuda.Device().synchronize()
        self.counters.syncs += 1
