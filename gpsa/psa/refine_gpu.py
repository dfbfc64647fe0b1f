"""The lattice refinement on the device for the ``gpu`` backend: :class:`GpuRefiner`, the
interface and results of :class:`gpsa.psa.refine_numba.NumbaRefiner` (to float rounding), on the
numba.cuda kernels of :mod:`gpsa.psa.kernels.cuda_refine`.

Used by the engine (``GridSearchPSA._refiner``) when the backend is ``gpu``, ``refine_method`` is
``"lattice"`` and a numba.cuda kernel can run: CuPy on a CUDA device, or the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, the tests), for up to ``MAX_SAMPLES`` compared samples. Otherwise
the ``gpu`` backend keeps the numba CPU kernels (NumbaRefiner): its numpy host path in CI has no
kernel to run. ``refine_method = "fit"`` always runs on the CPU.

Resident once per PSA instance (:func:`device_tables`, like ``RefineTables``): the basis as float32
over the compared window ± ``pad`` (the samples the refinement can touch; whatever
``gpu_basis_dtype``, which is the search tables' storage), the lattice index, segment of each
point, mask channels and the lattices. Per block the refiner uploads the window and the masked
hit segments once, with its first call. Every call is then one packed upload (the hits: start
positions, events, segments, energies, signals, δ), its launches on the backend's current CuPy
stream, and one packed download (the results):

* ``refine_grid``: the residual (1 launch), then the positions kernel once per rank;
* ``refine_t0``: the T0 scan (1 launch) and the hits' signals at the new δ (1 launch);
* ``model_signals``: 1 launch.

Launches and copies are counted in the backend's :class:`~gpsa.psa.gpu_context.TransferCounters`.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from gpsa.psa.loop import Hits
from gpsa.psa.refine import t0_steps

if TYPE_CHECKING:
    from gpsa.psa.engine import GridSearchPSA
    from gpsa.psa.gpu_context import DeviceContext

#: Channels of a window (36 segments + core).
N_CHANNELS = 37
#: Most compared samples the kernels take (one channel's samples are a per-thread array).
MAX_SAMPLES = 256


def runs_on_device(psa: GridSearchPSA) -> bool:
    """True when ``psa`` has the gpu backend, a numba.cuda kernel can run (CuPy, or the CUDA
    simulator) and ``samples`` <= MAX_SAMPLES (else the numba CPU refinement runs)."""
    backend: Any = psa.backend
    ctx = getattr(backend, "ctx", None)
    return (getattr(backend, "name", None) == "gpu" and ctx is not None
            and bool(ctx.is_cupy or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1")
            and psa.settings.samples <= MAX_SAMPLES)


class DeviceRefineTables:
    """The refinement's per-PSA-instance inputs, resident on the device (module docstring)."""

    def __init__(self, psa: GridSearchPSA, ctx: DeviceContext) -> None:
        t = psa.refine_tables
        self.pad = t.pad
        width = psa.settings.samples + 2 * t.pad
        # the window ± pad, indices clamped as the reference clamps them (identity if decoded)
        idx = np.clip(np.arange(t.first - t.pad, t.first - t.pad + width), 0, t.sig.shape[2] - 1)
        self.first = t.pad
        put = ctx.resident
        self.sig = put(np.ascontiguousarray(t.sig[:, :, idx]), np.float32)
        self.index, self.origin, self.spacing = put(t.index), put(t.origin), put(t.spacing)
        self.seg_of, self.chans, self.n_chans = put(t.seg_of), put(t.chans), put(t.n_chans)
        self.mask = put(t.mask)
        #: (lattice, stage pointers) of a pass from each first stage
        self.lattices = [(put(lat), put(ptr)) for lat, ptr in t.lattices]
        self.mode, self.p = int(t.mode), float(t.p)


_TABLES: weakref.WeakKeyDictionary[Any, DeviceRefineTables] = weakref.WeakKeyDictionary()


def device_tables(psa: GridSearchPSA, ctx: DeviceContext) -> DeviceRefineTables:
    """The resident tables of ``psa`` (made on its first refined block)."""
    tables = _TABLES.get(psa)
    if tables is None:
        tables = _TABLES[psa] = DeviceRefineTables(psa, ctx)
    return tables


class GpuRefiner:
    """T0 and sub-grid refinement of one block on the device (interface of NumbaRefiner)."""

    def __init__(self, psa: GridSearchPSA, hit_set: np.ndarray) -> None:
        backend: Any = psa.backend
        self.ctx: DeviceContext = backend.ctx
        self.xp = self.ctx.xp
        self.s = psa.settings
        self.positions = psa.refine_tables.positions
        self.n_chans_max = psa.refine_tables.chans.shape[1]
        self.t = device_tables(psa, self.ctx)
        self.hit_set = np.ascontiguousarray(hit_set, np.bool_)
        self._host_window: np.ndarray | None = None
        self._block: tuple[Any, Any] = (None, None)  # device window and hit set

    def _xyz(self, hits: Hits) -> np.ndarray:
        return self.positions[hits.point] + hits.offset_mm

    @staticmethod
    def _ptr(hits: Hits, n: int) -> np.ndarray:
        return np.searchsorted(hits.event, np.arange(n + 1)).astype(np.int64)

    def _send(self, window: np.ndarray | None, arrays: list[tuple[np.ndarray, Any]]
              ) -> tuple[Any, Any, list[Any]]:
        """One packed upload of ``arrays``, led by the block's window and masked hit segments the
        first time: (device window, device hit set, device arrays)."""
        first = window is not None and window is not self._host_window
        if first:
            arrays = [(window, np.float32), (self.hit_set, np.bool_)] + arrays
        dev = self.ctx.upload(arrays)
        if first:
            self._host_window, self._block, dev = window, (dev[0], dev[1]), dev[2:]
        return self._block[0], self._block[1], dev

    def _delta(self, delta: np.ndarray) -> np.ndarray:
        """δ as float64; ValueError beyond ±t0_range (the resident basis is the window ± pad)."""
        d = np.asarray(delta, np.float64)
        if d.size and float(np.abs(d).max()) > self.s.t0_range:
            raise ValueError(f"time shift {float(np.abs(d).max()):g} beyond t0_range = "
                             f"{self.s.t0_range:g} samples (the device basis is the window ± pad)")
        return d

    def _launch(self, name: str, n_threads: int, *args: Any) -> None:
        from gpsa.psa.kernels import cuda_refine

        if n_threads > 0:
            cuda_refine.launch(getattr(cuda_refine, name), n_threads, self.ctx.numba_stream(),
                               *args)
            self.ctx.launched(1)

    def model_signals(self, hits: Hits, delta: np.ndarray) -> np.ndarray:
        """(m, 37, K) unit signals of the hits at their positions, shifted by ``delta``."""
        m, t = len(hits), self.t
        out_specs = [((m, N_CHANNELS, self.s.samples), np.float32)]
        if m == 0:
            return np.empty(out_specs[0][0], np.float32)
        with self.ctx.stream():
            _, _, (xyz, seg, dl, ev) = self._send(None, [
                (self._xyz(hits), np.float64), (hits.segment, np.int64),
                (self._delta(delta), np.float64), (np.arange(m), np.int64)])
            buf, (out,) = self.ctx.empty(out_specs)
            self._launch("signal_kernel", m, t.sig, xyz, seg, dl, ev, t.index, t.origin,
                         t.spacing, t.seg_of, t.first, out)
            (host,) = self.ctx.download(buf, out_specs)
        return host.copy()

    def refine_t0(self, hits: Hits, window: np.ndarray) -> np.ndarray:
        """δ per event (float64; 0 for events without hits). Updates ``hits.signal``."""
        n, m, t = window.shape[0], len(hits), self.t
        if m == 0:
            return np.zeros(n)
        coarse, fine = t0_steps(self.s.t0_range, self.s.t0_step)
        specs = [((n,), np.float64), ((m, N_CHANNELS, self.s.samples), np.float32)]
        with self.ctx.stream():
            win, _, (xyz, seg, energy, ptr, ev, steps) = self._send(window, [
                (self._xyz(hits), np.float64), (hits.segment, np.int64),
                (hits.energy, np.float32), (self._ptr(hits, n), np.int64),
                (hits.event, np.int64), (np.concatenate([coarse, fine]), np.float64)])
            buf, (delta, signal) = self.ctx.empty(specs)
            model = self.xp.empty((n, N_CHANNELS, self.s.samples + 2 * t.pad), self.xp.float32)
            self._launch("t0_kernel", n, win, ptr, xyz, seg, energy, t.mask, t.index, t.origin,
                         t.spacing, t.seg_of, t.sig, t.first, t.pad, steps, coarse.size,
                         float(self.s.t0_range), t.mode, t.p, model, delta)
            self._launch("signal_kernel", m, t.sig, xyz, seg, delta, ev, t.index, t.origin,
                         t.spacing, t.seg_of, t.first, signal)
            host_delta, host_signal = self.ctx.download(buf, specs)
        hits.signal[:] = host_signal
        return host_delta.copy()

    def refine_grid(self, hits: Hits, window: np.ndarray, delta: np.ndarray,
                    first_stage: int = 0) -> None:
        """Move hits between grid points (in place: ``offset_mm``, ``signal``, ``fom``),
        searching ``stages_from(first_stage)``."""
        n, m, t = window.shape[0], len(hits), self.t
        if m == 0:
            return
        order = np.argsort(hits.rank, kind="stable")  # the hits of each rank, in turn
        rank_ptr = np.searchsorted(hits.rank[order], np.arange(int(hits.rank.max()) + 2))
        lattice, stage_ptr = t.lattices[first_stage]
        specs = [((m, 3), np.float64), ((m,), np.float64),
                 ((m, N_CHANNELS, self.s.samples), np.float32)]
        with self.ctx.stream():
            win, hit_set, dev = self._send(window, [
                (self._xyz(hits), np.float64), (hits.event, np.int64), (hits.segment, np.int64),
                (hits.energy, np.float32), (order, np.int64), (self._delta(delta), np.float64),
                (self._ptr(hits, n), np.int64), (hits.signal, np.float32)])
            xyz, ev, seg, energy, sel, dl, ptr, signal_in = dev
            buf, (off, fom, signal) = self.ctx.empty(specs)
            resid = self.xp.empty(window.shape, self.xp.float32)
            target = self.xp.empty((m, int(self.n_chans_max), self.s.samples), self.xp.float32)
            self._launch("residual_kernel", n * N_CHANNELS, win, ptr, energy, signal_in, resid)
            for r in range(rank_ptr.size - 1):
                self._launch("positions_kernel", int(rank_ptr[r + 1] - rank_ptr[r]), resid,
                             signal_in, signal, sel[rank_ptr[r]:rank_ptr[r + 1]], ev, seg,
                             energy, xyz, dl, t.chans, t.n_chans, hit_set,
                             bool(self.s.mask_other_hits), t.index, t.origin, t.spacing,
                             t.seg_of, t.sig, t.first, lattice, stage_ptr, t.mode, t.p, target, off,
                             fom)
            host_off, host_fom, host_signal = self.ctx.download(buf, specs)
        hits.offset_mm[:] = (hits.offset_mm + host_off).astype(np.float32)
        hits.fom[:] = host_fom
        hits.signal[:] = host_signal
