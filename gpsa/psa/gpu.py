"""GPU backend: host code written against an array module ``xp`` (numpy or cupy, chosen at call
time from the :class:`~gpsa.device.Device`), so the same lines run on numpy in tests.

* **Batched** (default; :mod:`gpsa.psa.gpu_batch`): every hit segment of a residual-loop step in
  one ``search_batch`` call against the resident concatenated tables: one packed upload, one
  launch (full) or three (AGS), one packed download.
* **Per segment** (``gpu_kernel = "raw"``, or a p != 2 ``shortlist``; ``search`` and
  ``all_foms`` calls): the segment's tables resident once (``gpu_basis_dtype`` float16 is
  storage only: every product and sum is float32 or wider); one packed upload (targets as
  ``transfer_dtype``, int16 with one scale per call, energies, weights, hit array, any per-hit
  lists) through the pinned staging of :mod:`gpsa.psa.gpu_context` and one packed download of
  (best, fom) per call. The counters there are read by the tests and ``gpsa check gpu``.
* The shortlist (p = 2 ranking) on that path: per candidate group a float32 matrix product
  (float16 overflows above 65504 keV²), ``xp.argpartition`` for the K best, then the exact
  kernel on them.
* Exact search: the numba.cuda kernels (:mod:`gpsa.psa.kernels.cuda_kernels`) launched on CuPy's
  current stream, or the CUDA C twin ``kernels/grid_search.cu`` as a CuPy RawKernel; with
  ``gpu_kernel = "tiled"`` (batched only) the full search and the AGS coarse stage run the tiled
  kernels of :mod:`gpsa.psa.kernels.cuda_tiled` (several hits per block, candidate-minor
  layout: :mod:`gpsa.psa.gpu_tiled`). Without
  CuPy: the numba.cuda kernels under the CUDA simulator when ``NUMBA_ENABLE_CUDASIM=1``, else
  the same arithmetic with ``xp`` (:mod:`gpsa.psa.gpu_xp`; no compiled kernel can run there).
"""

from __future__ import annotations

import importlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.device import Device
from gpsa.psa.backend import HitBatch, TableCache
from gpsa.psa.cpu import channel_order, group_hits
from gpsa.psa.gpu_batch import ConcatTables, concat_tables, search_batch
from gpsa.psa.gpu_context import DeviceContext
from gpsa.psa.gpu_tiled import layout_bytes
from gpsa.psa.gpu_xp import all_foms_xp, exact_xp, shortlists_xp
from gpsa.psa.kernels.cpu_kernels import p_mode
from gpsa.psa.segments import SegmentTable
from gpsa.psa.settings import PsaSettings

RAW_KERNEL = Path(__file__).parent / "kernels" / "grid_search.cu"
#: Must match GPSA_THREADS / GPSA_MAX_TERMS of grid_search.cu (the host checks the target size).
RAW_THREADS = 128
RAW_MAX_TERMS = 4096
KERNELS = ("numba", "raw", "tiled")


@lru_cache(maxsize=4)
def raw_kernel(half: bool) -> Any:
    """The CUDA C kernel compiled by CuPy (memoised per basis dtype)."""
    cupy = importlib.import_module("cupy")
    opts = ("-DGPSA_HALF_BASIS",) if half else ()
    return cupy.RawKernel(RAW_KERNEL.read_text(), "grid_search_fom", options=opts)


def launch_numba(*args: Any, stream: Any, threads: int) -> None:
    """Launch the numba.cuda search kernel (a seam: the tests record the stream passed)."""
    from gpsa.psa.kernels.cuda_kernels import launch

    launch(*args, stream=stream, threads=threads)


def launch_numba_foms(*args: Any, stream: Any, threads: int) -> None:
    """Launch the numba.cuda fom kernel (the AGS coarse stage of the batched search)."""
    from gpsa.psa.kernels.cuda_kernels import launch_foms

    launch_foms(*args, stream=stream, threads=threads)


class GpuBackend:
    """Grid search on a device through ``xp`` (see module docstring)."""

    name = "gpu"

    def __init__(self, settings: PsaSettings, device: Device, kernel: str | None = None) -> None:
        self.p = float(settings.p)
        self.shortlist = int(settings.shortlist)
        self.rescore = 4
        self.chunk = int(settings.gpu_chunk)
        self.device = device
        self.xp = device.xp
        self.ctx = DeviceContext(self.xp, device.index)
        self.basis_dtype = np.dtype(settings.gpu_basis_dtype)
        self.transfer_dtype = np.dtype(settings.transfer_dtype)
        self.kernel = kernel or settings.gpu_kernel
        if self.kernel not in KERNELS:
            raise ValueError(f"gpu kernel {self.kernel!r}: choose one of {', '.join(KERNELS)}")
        self.search_mode = settings.search
        self.ags_keep = int(settings.ags_keep)
        #: All hit segments of a loop step in one call (:mod:`gpsa.psa.gpu_batch`; "tiled" only
        #: there); not with the CUDA C kernel or a p != 2 shortlist (their per-segment paths).
        self.batches = self.kernel in ("numba", "tiled") and (self.p == 2.0 or self.shortlist == 0)
        self._cat: ConcatTables | None = None
        self._resident: TableCache[dict[str, Any]] = TableCache(self._make_resident)
        #: Threads per block of the numba kernel (a power of two up to 128; fewer keep the CUDA
        #: simulator fast, see ``gpsa check gpu``).
        self.block_threads = 128

    @property
    def counters(self) -> Any:
        """Launches, transfers and host syncs issued so far (:class:`TransferCounters`)."""
        return self.ctx.counters

    def _make_resident(self, table: SegmentTable) -> dict[str, Any]:
        put = self.ctx.resident
        all_ptr, all_idx = table.all_points()
        return {
            "signals": put(table.signals, self.basis_dtype),
            "norm2": put(table.norm2, np.float32),
            "order": put(channel_order(table)),
            # the kernels' concatenated layout for this one table (the per-segment path)
            "layout": {"signals": None, "sig_off": put(np.zeros(1, np.int64)),
                       "tab_nch": put(np.array([table.channels.size], np.int64)),
                       "order": put(channel_order(table)[None, :]),
                       "lead": put(np.full(1, -1, np.int64))},
            "lists": {"all": (put(all_ptr), put(all_idx)),
                      "coarse": (put(np.array([0, table.coarse.size], np.int64)),
                                 put(table.coarse)),
                      "fine": (put(table.fine_ptr), put(table.fine_idx))},
        }

    def resident(self, table: SegmentTable) -> dict[str, Any]:
        """Device copies of a segment table (made once per table)."""
        return self._resident.get(table)

    def prepare(self, tables: list[SegmentTable | None]) -> None:
        """Make every segment table resident on the device (concatenated when batching)."""
        if self.batches:
            self.concatenated(tables)
            return
        for table in tables:
            if table is not None:
                self.resident(table)

    def concatenated(self, tables: list[SegmentTable | None]) -> ConcatTables:
        """The resident concatenated layout of ``tables`` (built once per list of tables)."""
        if self._cat is None or not self._cat.matches(tables):
            self._cat = concat_tables(self, tables)
        return self._cat

    def search_batch(self, tables: list[SegmentTable | None],
                     batch: HitBatch) -> tuple[np.ndarray, np.ndarray]:
        """Every hit segment of a loop step: one upload, <= 3 launches, one download."""
        return search_batch(self, self.concatenated(tables), batch)

    def device_bytes(self) -> int:
        """Bytes of resident basis data (with the tiled kernels' transposed copy)."""
        cat = 0 if self._cat is None else (int(self._cat.device["signals"].nbytes)
                                           + layout_bytes(self._cat.device))
        return cat + int(sum(r["signals"].nbytes + r["norm2"].nbytes
                             for r in self._resident.values()))

    @staticmethod
    def _list_name(table: SegmentTable, ptr: np.ndarray, idx: np.ndarray) -> str | None:
        """Which resident candidate list (ptr, idx) is, or None (per-hit lists: uploaded)."""
        if idx is table.fine_idx and ptr is table.fine_ptr:
            return "fine"
        if ptr.size == 2 and idx is table.coarse:
            return "coarse"
        if (ptr.size == 2 and idx.size == table.n_points
                and np.array_equal(idx, np.arange(table.n_points))):
            return "all"
        return None

    def transfer_targets(self, targets: np.ndarray) -> tuple[np.ndarray, float]:
        """Host targets in the transfer dtype and the scale that turns them back into keV."""
        t = np.ascontiguousarray(targets, np.float32)
        if self.transfer_dtype == np.int16:
            scale = float(np.max(np.abs(t), initial=0.0)) / 32000.0 or 1.0
            return np.rint(t / scale).astype(np.int16), scale
        return t.astype(self.transfer_dtype, copy=False), 1.0

    def _to_f32(self, t: Any, scale: float) -> Any:
        if t.dtype == np.float32 and scale == 1.0:
            return t  # already float32 on the device: no copy
        self.ctx.launched(1)
        out = t.astype(self.xp.float32)
        if scale != 1.0:
            self.ctx.launched(1)
            out *= np.float32(scale)
        return out

    def search(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
               weights: np.ndarray, cand_ptr: np.ndarray, cand_idx: np.ndarray,
               hit_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        res, xp = self.resident(table), self.xp
        m = targets.shape[0]
        keep = self.rescore if self.p == 2.0 else self.shortlist
        short = keep > 0 and m >= 4 * (len(cand_ptr) - 1)
        hit_group = np.asarray(hit_group, np.int64)
        name = self._list_name(table, cand_ptr, cand_idx)
        q, scale = self.transfer_targets(targets)
        send: list[tuple[np.ndarray, Any]] = [
            (q, q.dtype), (np.asarray(energies, np.float32), np.float32),
            (np.asarray(weights, np.float32), np.float32),
            (np.stack([np.zeros(m, np.int64), hit_group, np.zeros(m, np.int64),
                       np.ones(m, np.int64)]), np.int64)]
        if name is None:
            send += [(np.asarray(cand_ptr, np.int64), np.int64),
                     (np.asarray(cand_idx, np.int64), np.int64)]
        if short:  # hits ordered by group and the shortlists' CSR pointers, made on the host
            groups = group_hits(hit_group)
            sizes = np.minimum(np.diff(cand_ptr)[hit_group], keep)
            s_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            by_group = (np.concatenate([h for _, h in groups]) if groups
                        else np.zeros(0, np.int64))
            send += [(s_ptr, np.int64), (by_group.astype(np.int64), np.int64)]
        with self.ctx.stream():
            dev = self.ctx.upload(send)
            t, e, w, info = self._to_f32(dev[0], scale), dev[1], dev[2], dev[3]
            ptr, idx = res["lists"][name] if name is not None else (dev[4], dev[5])
            out_specs = [((m,), np.int64), ((m,), np.float64)]
            out, (best, fom) = self.ctx.empty(out_specs)
            if short:
                ptr, idx = shortlists_xp(xp, self.ctx, res, t, e, w, cand_ptr, idx, groups,
                                         dev[-2], dev[-1], int(s_ptr[-1]), keep)
                self.ctx.launched(2)  # copy, arange
                info = info.copy()
                info[1] = xp.arange(m, dtype=xp.int64)
            self._exact(res, t, e, w, ptr, idx, info, best, fom)
            host_best, host_fom = self.ctx.download(out, out_specs)
            return host_best.copy(), host_fom.copy()

    def all_foms(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
                 weights: np.ndarray, cands: np.ndarray) -> np.ndarray:
        """(m, L) foms against shared candidates (AGS coarse stage), computed with ``xp``."""
        res = self.resident(table)
        q, scale = self.transfer_targets(targets)
        send = [(q, q.dtype), (np.asarray(energies, np.float32), np.float32),
                (np.asarray(weights, np.float32), np.float32)]
        coarse = cands is table.coarse
        if not coarse:
            send.append((np.asarray(cands, np.int64), np.int64))
        with self.ctx.stream():
            dev = self.ctx.upload(send)
            t = self._to_f32(dev[0], scale)
            c = res["lists"]["coarse"][1] if coarse else dev[3]
            specs = [((targets.shape[0], len(cands)), np.float64)]
            out, (view,) = self.ctx.empty(specs)
            all_foms_xp(self.xp, self.ctx, res["signals"], t, dev[1], dev[2], c, self.p, view)
            (host,) = self.ctx.download(out, specs)
            return host.copy()

    def _exact(self, res: dict[str, Any], t: Any, e: Any, w: Any, ptr: Any, idx: Any,
               info: Any, best: Any, fom: Any) -> None:
        """One segment's exact search (``info``: the kernels' (4, m) hit array, table 0)."""
        m = int(t.shape[0])
        if m == 0:
            return
        lay = {**res["layout"], "signals": res["signals"].reshape(-1), "ptr": ptr, "idx": idx}
        if self.ctx.is_cupy and self.kernel == "raw":
            n_ch, n_k = int(t.shape[1]), int(t.shape[2])
            if n_ch * n_k > RAW_MAX_TERMS:
                raise ValueError(f"target of {n_ch}x{n_k} terms exceeds the raw kernel's "
                                 f"GPSA_MAX_TERMS={RAW_MAX_TERMS}")
            raw_kernel(self.basis_dtype == np.float16)(
                (m,), (RAW_THREADS,), (t, e, w, res["signals"], res["order"], ptr, idx, info[1],
                                       np.int32(n_ch), np.int32(n_k), np.int32(p_mode(self.p)),
                                       np.float32(self.p), best, fom))
            self.ctx.launched(1)
        elif self.ctx.is_cupy or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
            launch_numba(t, 1.0, e, w, lay["signals"], lay["sig_off"], lay["tab_nch"],
                         lay["order"], info, info[3][:, None], ptr, idx, lay["lead"],
                         p_mode(self.p), self.p, best, fom, stream=self.ctx.numba_stream(),
                         threads=self.block_threads)
            self.ctx.launched(1)
        else:
            exact_xp(self.xp, self.ctx, lay, t, 1.0, e, w, info, info[3][:, None], self.p,
                     self.chunk, best, fom)
