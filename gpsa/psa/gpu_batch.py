"""The GPU backend's batched search: every hit segment of one residual-loop step at once.

The segment tables are made resident once, **concatenated** (:class:`ConcatTables`, built in
``prepare``): the signals of every table in one flat array with per-table offsets, channel counts
and channel orders, and every table's candidate lists (all points, coarse lattice, AGS fine lists)
as one CSR with per-table group offsets. A :class:`~gpsa.psa.backend.HitBatch` (hits sorted by
segment, targets padded to the widest mask) is then searched with one packed upload (targets,
energies, weights, the (4, m) per-hit table/group array), one packed download (best, fom) and:

* ``full``: one launch of the search kernel (each hit scans its table's "all" group, or the
  coarse group for coarse-only hits);
* ``ags``: three launches: every coarse fom (the fom kernel), a stable sort of each row (the
  ``ags_keep`` best coarse positions stay on the device), then the search kernel over the fine
  lists of those positions, led by the best coarse point (coarse-only hits: the coarse group).

p = 2 uses the exact kernel here (the matrix-product ranking of the per-segment path needs one
product per segment and group). The kernels are those of :mod:`gpsa.psa.kernels.cuda_kernels`
(numba.cuda; the simulator without CuPy) or their ``xp`` stand-ins (:mod:`gpsa.psa.gpu_xp`).
With ``gpu_kernel = "tiled"`` the full search and the AGS coarse stage run the tiled kernels
(:mod:`gpsa.psa.gpu_tiled`: candidate-minor layout, several hits of one candidate group per
block; the tiles travel in the same packed upload), and the AGS fine stage, whose lists differ
per hit, keeps the per-hit search kernel; on the numpy host path "tiled" runs the same ``xp``
stand-ins as "numba".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gpsa.psa.backend import HitBatch
from gpsa.psa.cpu import channel_order
from gpsa.psa.gpu_tiled import launch_foms, launch_search, tile_uploads, tiled_layout
from gpsa.psa.gpu_xp import exact_xp, foms_xp
from gpsa.psa.kernels.cpu_kernels import p_mode
from gpsa.psa.segments import SegmentTable

if TYPE_CHECKING:
    from gpsa.psa.gpu import GpuBackend


@dataclass
class ConcatTables:
    """Resident concatenated layout of a list of segment tables (module docstring)."""

    tables: tuple[SegmentTable | None, ...]
    device: dict[str, Any]  # signals, sig_off, tab_nch, order, ptr, idx, lead (device arrays)
    g_all: np.ndarray  # (S,) first group of each table: all points, coarse, fine lists
    g_coarse: np.ndarray
    g_fine: np.ndarray
    n_coarse: np.ndarray  # (S,) coarse lattice size
    max_coarse: int

    def matches(self, tables: list[SegmentTable | None]) -> bool:
        return len(tables) == len(self.tables) and all(
            a is b for a, b in zip(tables, self.tables, strict=True))


def concat_tables(backend: GpuBackend, tables: list[SegmentTable | None]) -> ConcatTables:
    """Build and upload the concatenated layout (once per list of tables)."""
    n = len(tables)
    c_max = max((t.channels.size for t in tables if t is not None), default=1)
    sig_off, nch = np.zeros(n, np.int64), np.ones(n, np.int64)
    order = np.zeros((n, c_max), np.int64)
    g_all, g_coarse, g_fine = (np.zeros(n, np.int64) for _ in range(3))
    n_coarse = np.zeros(n, np.int64)
    sigs: list[np.ndarray] = []
    lens: list[np.ndarray] = []
    idx: list[np.ndarray] = []
    lead: list[np.ndarray] = []
    off = groups = 0
    for s, t in enumerate(tables):
        g_all[s], g_coarse[s], g_fine[s] = groups, groups + 1, groups + 2
        if t is None:
            lens.append(np.zeros(2, np.int64))
            lead.append(np.full(2, -1, np.int64))
            groups += 2
            continue
        sig_off[s], nch[s] = off, t.channels.size
        order[s, :nch[s]] = channel_order(t)
        sigs.append(t.signals.reshape(-1))
        off += t.signals.size
        n_coarse[s] = t.coarse.size
        lens.append(np.concatenate([[t.n_points, t.coarse.size], np.diff(t.fine_ptr)]))
        idx += [np.arange(t.n_points, dtype=np.int64), t.coarse, t.fine_idx]
        lead.append(np.concatenate([[-1, -1], t.coarse]))
        groups += 2 + t.coarse.size
    ptr = np.concatenate([[0], np.cumsum(np.concatenate(lens))]).astype(np.int64)
    put = backend.ctx.resident
    empty = np.zeros(0, np.float32)
    dev = {"signals": put(np.concatenate(sigs) if sigs else empty, backend.basis_dtype),
           "sig_off": put(sig_off), "tab_nch": put(nch), "order": put(order), "ptr": put(ptr),
           "idx": put(np.concatenate(idx).astype(np.int64) if idx else np.zeros(0, np.int64)),
           "lead": put(np.concatenate(lead).astype(np.int64))}
    if _tiled(backend):  # the tiled kernels' (C, K, Ns) signals
        dev["tiled"] = tiled_layout(backend, tables)
    return ConcatTables(tuple(tables), dev, g_all, g_coarse, g_fine, n_coarse,
                        int(n_coarse.max(initial=0)))


def batch_info(cat: ConcatTables, batch: HitBatch, search: str, ags_keep: int) -> np.ndarray:
    """(4, m) int64 per hit: table, base group, group step, groups scanned (the kernel's
    ``info``)."""
    seg, co = batch.segment, batch.coarse_only
    info = np.zeros((4, seg.size), np.int64)
    info[0] = seg
    info[3] = 1
    if search == "full":
        info[1] = np.where(co, cat.g_coarse[seg], cat.g_all[seg])
        return info
    fine = ~co
    info[1] = np.where(fine, cat.g_fine[seg], cat.g_coarse[seg])
    info[2] = fine
    info[3] = np.where(fine, np.minimum(ags_keep, cat.n_coarse[seg]), 1)
    return info


def search_batch(backend: GpuBackend, cat: ConcatTables, batch: HitBatch
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Best local index and fom of every hit of ``batch`` (module docstring)."""
    ctx, xp = backend.ctx, backend.xp
    m = int(batch.segment.size)
    ags = backend.search_mode == "ags"
    info = batch_info(cat, batch, backend.search_mode, backend.ags_keep)
    q, scale = backend.transfer_targets(batch.targets)
    send = [(q, q.dtype), (np.asarray(batch.energies, np.float32), np.float32),
            (np.asarray(batch.weights, np.float32), np.float32), (info, np.int64)]
    if ags:  # the coarse stage scans each hit's coarse group
        send.append((np.stack([info[0], cat.g_coarse[batch.segment],
                               np.zeros(m, np.int64), np.ones(m, np.int64)]), np.int64))
    tiled = _tiled(backend)
    if tiled:  # tiles of the full search or of the AGS coarse stage
        group = cat.g_coarse[batch.segment] if ags else info[1]
        send += tile_uploads(group, info[0], batch.targets.shape)
    with ctx.stream():
        dev = ctx.upload(send)
        t, e, w, d_info = dev[:4]
        tiles = dev[-3:] if tiled else None
        specs = [((m,), np.int64), ((m,), np.float64)]
        out, (best, fom) = ctx.empty(specs)
        sel: Any = d_info[3][:, None]  # step 0: any contiguous (m, >= 1) int64 array
        if ags and m:
            width = max(1, cat.max_coarse)
            coarse = xp.empty((m, width), dtype=xp.float64)
            _foms(backend, cat, t, scale, e, w, dev[4], dev[4][3][:, None], coarse, tiles)
            # every row sorted, kept whole (contiguous): the kernel reads the n_sel first
            sel = xp.argsort(coarse, axis=1, kind="stable")
            ctx.launched(1)  # the sort
        _search(backend, cat, t, scale, e, w, d_info, sel, best, fom, None if ags else tiles)
        host_best, host_fom = ctx.download(out, specs)
        return host_best.copy(), host_fom.copy()


def _kernel_mode(backend: GpuBackend) -> bool:
    """True when the numba.cuda kernel runs (CuPy, or the simulator), False for the stand-in."""
    return bool(backend.ctx.is_cupy or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1")


def _tiled(backend: GpuBackend) -> bool:
    """True when the tiled kernels run (``gpu_kernel = "tiled"`` and a kernel can run)."""
    return backend.kernel == "tiled" and _kernel_mode(backend)


def _foms(backend: GpuBackend, cat: ConcatTables, t: Any, scale: float, e: Any, w: Any,
          info: Any, sel: Any, out: Any, tiles: list[Any] | None = None) -> None:
    d = cat.device
    if tiles is not None:
        launch_foms(backend, d, t, scale, e, w, tiles, out)
    elif _kernel_mode(backend):
        from gpsa.psa.gpu import launch_numba_foms

        launch_numba_foms(t, scale, e, w, d["signals"], d["sig_off"], d["tab_nch"], d["order"],
                          info, sel, d["ptr"], d["idx"], p_mode(backend.p), backend.p, out,
                          stream=backend.ctx.numba_stream(), threads=backend.block_threads)
        backend.ctx.launched(1)
    else:
        foms_xp(backend.xp, backend.ctx, d, t, scale, e, w, info, sel, backend.p, backend.chunk,
                out)


def _search(backend: GpuBackend, cat: ConcatTables, t: Any, scale: float, e: Any, w: Any,
            info: Any, sel: Any, best: Any, fom: Any, tiles: list[Any] | None = None) -> None:
    d = cat.device
    if tiles is not None:
        launch_search(backend, d, t, scale, e, w, tiles, best, fom)
    elif _kernel_mode(backend):
        from gpsa.psa.gpu import launch_numba

        launch_numba(t, scale, e, w, d["signals"], d["sig_off"], d["tab_nch"], d["order"], info,
                     sel, d["ptr"], d["idx"], d["lead"], p_mode(backend.p), backend.p, best, fom,
                     stream=backend.ctx.numba_stream(), threads=backend.block_threads)
        backend.ctx.launched(1)
    else:
        exact_xp(backend.xp, backend.ctx, d, t, scale, e, w, info, sel, backend.p, backend.chunk,
                 best, fom)
