"""GPU backend: host code written against an array module ``xp`` (numpy or cupy, chosen at call
time from the :class:`~gpsa.device.Device`), so the same lines run on numpy in tests.

* The basis tables are made resident once per segment (``gpu_basis_dtype`` float32 or float16).
* Targets go to the device as float32, float16 or int16 (``transfer_dtype``; int16 with one scale
  per batch) through a pinned staging buffer on a stream; streams rotate over ``N_STREAMS`` so a
  batch's upload can overlap the previous batch's compute on a real GPU. On numpy the pinned
  buffer is a plain array and the stream a no-op context.
* p = 2 (and the p = 2 shortlist for other p): one matrix product per candidate group (all hits
  of a segment share the mask), ``xp.argpartition`` for the K best, then the exact kernel on them.
* Exact general p: the numba.cuda kernel :mod:`gpsa.psa.kernels.cuda_kernels` (or the CUDA C twin
  ``kernels/grid_search.cu`` as a CuPy RawKernel, ``kernel="raw"``) on a real device; on numpy
  the same arithmetic vectorised with ``xp`` over padded candidate lists, or the numba.cuda kernel
  itself when ``NUMBA_ENABLE_CUDASIM=1`` (the CUDA simulator, used by the tests).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.device import Device
from gpsa.psa.cpu import channel_order, group_hits
from gpsa.psa.kernels.cpu_kernels import p_mode
from gpsa.psa.segments import SegmentTable
from gpsa.psa.settings import PsaSettings

N_STREAMS = 2
RAW_KERNEL = Path(__file__).parent / "kernels" / "grid_search.cu"


class DeviceContext:
    """Pinned buffers, streams and transfers for an array module (no-ops on numpy)."""

    def __init__(self, xp: Any) -> None:
        self.xp = xp
        self.is_cupy = xp.__name__ == "cupy"
        self._streams = ([xp.cuda.Stream(non_blocking=True) for _ in range(N_STREAMS)]
                         if self.is_cupy else [None] * N_STREAMS)
        self._next = 0

    def pinned(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        if self.is_cupy:
            return importlib.import_module("cupyx").empty_pinned(shape, dtype=dtype)
        return np.empty(shape, dtype=dtype)

    @contextlib.contextmanager
    def stream(self) -> Iterator[Any]:
        s = self._streams[self._next]
        self._next = (self._next + 1) % N_STREAMS
        if s is None:
            yield None
        else:
            with s:
                yield s

    def upload(self, host: np.ndarray, dtype: Any) -> Any:
        """Copy through a pinned buffer of ``dtype`` to the device (async on the current stream)."""
        staging = self.pinned(host.shape, dtype)
        staging[...] = host
        if not self.is_cupy:
            return staging
        dev = self.xp.empty(host.shape, dtype=dtype)
        dev.set(staging, stream=self.xp.cuda.get_current_stream())
        return dev

    def download(self, dev: Any) -> np.ndarray:
        return self.xp.asnumpy(dev) if self.is_cupy else np.asarray(dev)


@lru_cache(maxsize=4)
def raw_kernel(half: bool) -> Any:
    """The CUDA C kernel compiled by CuPy (memoised per basis dtype)."""
    cupy = importlib.import_module("cupy")
    opts = ("-DGPSA_HALF_BASIS",) if half else ()
    return cupy.RawKernel(RAW_KERNEL.read_text(), "grid_search_fom", options=opts)


class GpuBackend:
    """Grid search on a device through ``xp`` (see module docstring)."""

    name = "gpu"

    def __init__(self, settings: PsaSettings, device: Device, kernel: str = "numba") -> None:
        self.p = float(settings.p)
        self.shortlist = int(settings.shortlist)
        self.rescore = 4
        self.chunk = int(settings.gpu_chunk)
        self.device = device
        self.xp = device.xp
        self.ctx = DeviceContext(self.xp)
        self.basis_dtype = np.dtype(settings.gpu_basis_dtype)
        self.transfer_dtype = np.dtype(settings.transfer_dtype)
        self.kernel = kernel
        self._resident: dict[int, dict[str, Any]] = {}

    def resident(self, table: SegmentTable) -> dict[str, Any]:
        """Device copies of a segment table (made once)."""
        key = id(table)
        if key not in self._resident:
            xp = self.xp
            self._resident[key] = {
                "signals": xp.asarray(table.signals.astype(self.basis_dtype)),
                "norm2": xp.asarray(table.norm2),
                "order": xp.asarray(channel_order(table)),
                "table": table,
            }
        return self._resident[key]

    def prepare(self, tables: list[SegmentTable | None]) -> None:
        """Make every segment table resident on the device."""
        for table in tables:
            if table is not None:
                self.resident(table)

    def device_bytes(self) -> int:
        """Bytes of resident basis data."""
        return int(sum(r["signals"].nbytes + r["norm2"].nbytes for r in self._resident.values()))

    def _send_targets(self, targets: np.ndarray) -> Any:
        if self.transfer_dtype == np.int16:
            scale = float(np.max(np.abs(targets))) / 32000.0 or 1.0
            q = np.rint(targets / scale).astype(np.int16)
            return self.ctx.upload(q, np.int16).astype(np.float32) * np.float32(scale)
        return self.ctx.upload(targets, self.transfer_dtype).astype(np.float32)

    def search(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
               weights: np.ndarray, cand_ptr: np.ndarray, cand_idx: np.ndarray,
               hit_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xp, res = self.xp, self.resident(table)
        with self.ctx.stream():
            t = self._send_targets(np.ascontiguousarray(targets, np.float32))
            e = self.ctx.upload(np.asarray(energies, np.float32), np.float32)
            w = self.ctx.upload(np.asarray(weights, np.float32), np.float32)
            keep = self.rescore if self.p == 2.0 else self.shortlist
            if keep > 0 and targets.shape[0] >= 4 * (len(cand_ptr) - 1):
                ptr, idx = self._shortlists(res, t, e, w, cand_ptr, cand_idx, hit_group, keep)
                group = xp.arange(targets.shape[0], dtype=xp.int64)
            else:
                ptr, idx = xp.asarray(cand_ptr), xp.asarray(cand_idx)
                group = xp.asarray(np.asarray(hit_group, np.int64))
            best, fom = self._exact(res, t, e, w, ptr, idx, group)
            return self.ctx.download(best), self.ctx.download(fom)

    def all_foms(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
                 weights: np.ndarray, cands: np.ndarray) -> np.ndarray:
        """(m, L) foms against shared candidates (AGS coarse stage), computed with ``xp``."""
        xp, res = self.xp, self.resident(table)
        with self.ctx.stream():
            t = self._send_targets(np.ascontiguousarray(targets, np.float32))
            e = xp.asarray(np.asarray(energies, np.float32))
            w = xp.asarray(np.asarray(weights, np.float64))
            sig = res["signals"][xp.asarray(cands)].astype(xp.float32)  # (L, C, K)
            out = xp.empty((targets.shape[0], len(cands)), dtype=xp.float64)
            step = max(1, (1 << 23) // max(1, sig.size))
            for a in range(0, targets.shape[0], step):
                d = xp.abs(t[a:a + step, None] - e[a:a + step, None, None, None] * sig[None])
                d = d * d if self.p == 2.0 else (d if self.p == 1.0 else d ** xp.float32(self.p))
                out[a:a + step] = xp.einsum("hlc,hc->hl", d.sum(axis=3, dtype=xp.float64),
                                            w[a:a + step])
            return self.ctx.download(out)

    def _shortlists(self, res: dict[str, Any], t: Any, e: Any, w: Any, cand_ptr: np.ndarray,
                    cand_idx: np.ndarray, hit_group: np.ndarray, keep: int) -> tuple[Any, Any]:
        """Per-hit CSR lists of the ``keep`` best candidates by the p = 2 matrix product."""
        xp = self.xp
        m, n_ch, n_k = t.shape
        sizes = np.minimum(np.diff(cand_ptr)[hit_group], keep)
        ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        idx = xp.empty(int(ptr[-1]), dtype=xp.int64)
        a = (t * w[:, :, None]).reshape(m, n_ch * n_k)
        flat_all = res["signals"].reshape(res["signals"].shape[0], -1)
        for g, hits in group_hits(np.asarray(hit_group, np.int64)):
            cands = xp.asarray(cand_idx[cand_ptr[g]:cand_ptr[g + 1]])
            k = min(keep, int(cands.size))
            h = xp.asarray(hits)
            # float32 product and output (a float16 product overflows above 65504 keV^2)
            flat = flat_all[cands].astype(xp.float32)
            dot = xp.matmul(a[h], flat.T)
            eh = e[h][:, None]
            score = eh * eh * xp.matmul(w[h], res["norm2"][cands].T) - 2.0 * eh * dot
            top = (xp.argpartition(score, k - 1, axis=1)[:, :k] if k < cands.size
                   else xp.broadcast_to(xp.arange(k), (hits.size, k)))
            top = xp.take_along_axis(
                top, xp.argsort(xp.take_along_axis(score, top, axis=1), axis=1), axis=1)
            idx[xp.asarray(ptr[hits])[:, None] + xp.arange(k)] = cands[top]
        return xp.asarray(ptr), idx

    def _exact(self, res: dict[str, Any], t: Any, e: Any, w: Any, ptr: Any, idx: Any,
               group: Any) -> tuple[Any, Any]:
        xp = self.xp
        m = t.shape[0]
        best = xp.empty(m, dtype=xp.int64)
        fom = xp.empty(m, dtype=xp.float64)
        if self.ctx.is_cupy and self.kernel == "raw":
            n_ch, n_k = int(t.shape[1]), int(t.shape[2])
            raw_kernel(self.basis_dtype == np.float16)(
                (m,), (128,), (t, e, w, res["signals"], res["order"], ptr, idx, group,
                               np.int32(n_ch), np.int32(n_k), np.int32(p_mode(self.p)),
                               np.float32(self.p), best, fom))
        elif self.ctx.is_cupy or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
            from gpsa.psa.kernels.cuda_kernels import launch  # numpy arrays under the simulator

            launch(t, e, w, res["signals"], res["order"], ptr, idx, group, p_mode(self.p),
                   self.p, best, fom)
        else:
            self._exact_xp(res, t, e, w, ptr, idx, group, best, fom)
        return best, fom

    def _exact_xp(self, res: dict[str, Any], t: Any, e: Any, w: Any, ptr: Any, idx: Any,
                  group: Any, best: Any, fom: Any) -> None:
        """The kernel's arithmetic with ``xp``: padded candidate lists, chunked over hits."""
        xp = self.xp
        m, n_ch, n_k = t.shape
        lens = (ptr[1:] - ptr[:-1])[group]
        width = int(lens.max()) if m else 0
        chunk = max(1, min(self.chunk, (1 << 23) // max(1, width * n_ch * n_k)))
        for a in range(0, m, chunk):
            b = min(a + chunk, m)
            pos = ptr[group[a:b]][:, None] + xp.arange(width)[None, :]
            valid = xp.arange(width)[None, :] < lens[a:b, None]
            cand = idx[xp.where(valid, pos, ptr[group[a:b]][:, None])]
            sig = res["signals"][cand].astype(xp.float32)  # (h, L, C, K)
            d = xp.abs(t[a:b, None] - e[a:b, None, None, None] * sig)
            d = d * d if self.p == 2.0 else (d if self.p == 1.0 else d ** xp.float32(self.p))
            f = xp.einsum("hlc,hc->hl", d.sum(axis=3, dtype=xp.float64),
                          w[a:b].astype(xp.float64))
            f = xp.where(valid, f, xp.inf)
            j = xp.argmin(f, axis=1)
            best[a:b] = xp.take_along_axis(cand, j[:, None], axis=1)[:, 0]
            fom[a:b] = xp.take_along_axis(f, j[:, None], axis=1)[:, 0]
