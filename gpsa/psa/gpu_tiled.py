"""Host side of ``gpu_kernel = "tiled"``: the candidate-minor resident layout, the tiling of a
:class:`~gpsa.psa.backend.HitBatch` and the launches of :mod:`gpsa.psa.kernels.cuda_tiled`.

* **Layout** (:func:`tiled_layout`): next to the concatenated (Ns, C, K) signals of
  :mod:`gpsa.psa.gpu_batch` (still read by the AGS fine stage), every table's signals transposed
  to (C, K, Ns), one table after the other (offsets ``off``, point counts ``pts``), in the basis
  storage dtype. Made resident once per :class:`~gpsa.psa.gpu_batch.ConcatTables`, only where
  the tiled kernel runs (CuPy or the CUDA simulator); counted by ``GpuBackend.device_bytes``.
* **Tiles** (:func:`make_tiles`): the hits of a step grouped by the candidate group they scan
  (one table's all-points list or coarse lattice), in hit order within a group, cut into tiles
  of :func:`tile_size` hits (the last tile of a group partial). Made on the host from the
  per-hit array and sent in the step's one packed upload (:func:`tile_uploads`): hit indices
  (n, H) padded with -1, the group and the table of each tile.
* **Launches**: one block per tile (:func:`launch_search`, :func:`launch_foms`), each counted
  as one device operation through ``backend.ctx.launched``.

On the numpy host path (no CuPy, no simulator) none of this runs: the batched search uses the
``xp`` stand-ins of :mod:`gpsa.psa.gpu_xp`, whose results the kernels equal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gpsa.psa.kernels.cpu_kernels import p_mode
from gpsa.psa.segments import SegmentTable

if TYPE_CHECKING:
    from gpsa.psa.gpu import GpuBackend

#: Hits per tile (the size of the kernels' per-thread accumulator arrays), float32 target terms
#: in shared memory per tile (32 KB: hits x channels x samples), threads per warp; read by
#: kernels/cuda_tiled.py (which imports numba.cuda, so they live here).
TILE_HITS = 8
SHARED_TERMS = 8192
WARP = 32


def tiled_layout(backend: GpuBackend, tables: tuple[SegmentTable | None, ...] |
                 list[SegmentTable | None]) -> dict[str, Any]:
    """Resident (C, K, Ns) signals of every table, flat, with per-table offsets and point
    counts (``signals``, ``off``, ``pts``)."""
    off = np.zeros(len(tables), np.int64)
    pts = np.zeros(len(tables), np.int64)
    parts: list[np.ndarray] = []
    total = 0
    for s, t in enumerate(tables):
        if t is None:
            continue
        off[s], pts[s] = total, t.n_points
        parts.append(np.transpose(t.signals, (1, 2, 0)).reshape(-1))
        total += t.signals.size
    put = backend.ctx.resident
    flat = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return {"signals": put(flat, backend.basis_dtype), "off": put(off), "pts": put(pts)}


def layout_bytes(device: dict[str, Any]) -> int:
    """Bytes of the tiled layout's signals in a ConcatTables' device dict (0 without one)."""
    lay = device.get("tiled")
    return 0 if lay is None else int(lay["signals"].nbytes)


def tile_size(n_ch: int, n_k: int) -> int:
    """Hits per tile: :data:`TILE_HITS`, fewer when their targets exceed the shared array."""
    per = min(TILE_HITS, SHARED_TERMS // max(1, n_ch * n_k))
    if per < 1:
        raise ValueError(f"target of {n_ch}x{n_k} terms exceeds the tiled kernel's "
                         f"SHARED_TERMS={SHARED_TERMS}")
    return per


def make_tiles(group: np.ndarray, table: np.ndarray, per: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tiles (n, per) hit indices padded with -1, tile group (n,), tile table (n,)): the hits
    of each group in hit order, ``per`` to a tile."""
    group = np.asarray(group, np.int64)
    m = group.size
    if m == 0:
        return np.zeros((0, per), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    hits = np.argsort(group, kind="stable")
    g = group[hits]
    start = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
    size = np.diff(np.concatenate([start, [m]]))
    n_tiles = -(-size // per)
    first_tile = np.concatenate([[0], np.cumsum(n_tiles)[:-1]])
    run = np.repeat(np.arange(start.size), size)
    rank = np.arange(m) - start[run]
    tile = first_tile[run] + rank // per
    tiles = np.full((int(n_tiles.sum()), per), -1, np.int64)
    tiles[tile, rank % per] = hits
    return tiles, np.repeat(g[start], n_tiles), np.repeat(np.asarray(table, np.int64)[hits][start],
                                                          n_tiles)


def tile_uploads(group: np.ndarray, table: np.ndarray, targets_shape: tuple[int, ...]
                 ) -> list[tuple[np.ndarray, Any]]:
    """The three tile arrays as (array, dtype) pairs for the step's packed upload."""
    per = tile_size(int(targets_shape[1]), int(targets_shape[2]))
    tiles, tile_group, tile_tab = make_tiles(group, table, per)
    return [(tiles, np.int64), (tile_group, np.int64), (tile_tab, np.int64)]


def _threads(backend: GpuBackend) -> int:
    """The backend's block size rounded up to whole warps (the kernels need full warps)."""
    return max(WARP, -(-int(backend.block_threads) // WARP) * WARP)


def _common(backend: GpuBackend, d: dict[str, Any], t: Any, scale: float, e: Any, w: Any,
            tiles: list[Any]) -> tuple[Any, ...]:
    lay = d["tiled"]
    return (t, scale, e, w, lay["signals"], lay["off"], lay["pts"], d["tab_nch"], d["order"],
            tiles[0], tiles[1], tiles[2], d["ptr"], d["idx"], p_mode(backend.p), backend.p)


def launch_search(backend: GpuBackend, d: dict[str, Any], t: Any, scale: float, e: Any, w: Any,
                  tiles: list[Any], best: Any, fom: Any) -> None:
    """Best local index and fom of every tiled hit (the full search): one launch."""
    from gpsa.psa.kernels.cuda_tiled import launch_tiled

    launch_tiled(*_common(backend, d, t, scale, e, w, tiles), best, fom,
                 stream=backend.ctx.numba_stream(), threads=_threads(backend))
    backend.ctx.launched(1)


def launch_foms(backend: GpuBackend, d: dict[str, Any], t: Any, scale: float, e: Any, w: Any,
                tiles: list[Any], out: Any) -> None:
    """Every fom of each tiled hit's group into ``out`` (the AGS coarse stage): one launch."""
    from gpsa.psa.kernels.cuda_tiled import launch_tiled_foms

    launch_tiled_foms(*_common(backend, d, t, scale, e, w, tiles), out,
                      stream=backend.ctx.numba_stream(), threads=_threads(backend))
    backend.ctx.launched(1)
