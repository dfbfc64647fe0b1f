"""Grid-search PSA: the public entry point :class:`GridSearchPSA`.

**Input convention.** ``run`` takes a *preprocessed* :class:`~gpsa.block.CrystalBlock`:

* ``traces`` float32 ``(n, >=37, S_trace)``: channels 0..35 the segments (in the basis segment
  order), 36 the core; amplitudes in keV (a segment's net charge equals its energy), baseline
  subtracted; int16 traces are accepted and read as keV;
* ``energies[:, :36]`` the segment net-charge energies (keV): a segment is hit when its energy is
  above ``threshold_kev``; ``energies[:, 36]`` / ``[:, 37]`` (when present) are the core energies
  copied to the event table as ``e0`` / ``e1``;
* ``t0`` the (possibly fractional) sample of the interaction time in the trace; NaN → the
  ``default_t0`` setting.

The search compares ``trace[:, c, round(t0) + sample_offset + k]`` with
``basis.signals[:, c, basis.t0_sample + sample_offset + k]`` for ``k < samples`` (default: the 40
samples starting at T0), over the mask channels of the hit segment. ``refine_t0`` then refines T0
by a sub-sample time shift of the model; ``refine_grid`` refines positions between grid points.

**Output.** A :class:`~gpsa.block.PsaBlock`: one hit per searched segment (segment, x, y, z in mm
in the crystal frame, energy = segment energy, time = refined T0 in trace samples, fom, status);
the event table carries timestamps, ids, status, ``e0``/``e1``, ``t0`` = the T0 used (refined),
``t1`` = the input T0 (NaN if unknown) and ``psa_status`` (OR of the hits' status bits and the
event's own).
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from gpsa._numba import blas_threads
from gpsa.basis.grid import BasisGrid
from gpsa.basis.model import Basis
from gpsa.block import CrystalBlock, PsaBlock, PsaEvents, PsaHits
from gpsa.device import Device, select_device
from gpsa.errors import ConfigError
from gpsa.psa.backend import SearchBackend, ThreadedBackend
from gpsa.psa.loop import (
    Hits,
    SearchDriver,
    masked_segments,
    ranks,
    residual_loop,
    select_hits,
)
from gpsa.psa.masks import build_mask
from gpsa.psa.passes import refine as refine_passes
from gpsa.psa.segments import SegmentTable, build_segment_tables
from gpsa.psa.settings import PsaSettings
from gpsa.psa.window import integer_t0, measured_window

if TYPE_CHECKING:
    from gpsa.psa.refine_numba import RefineTables

log = logging.getLogger(__name__)



def make_backend(settings: PsaSettings, device: Device) -> SearchBackend:
    """The search backend named by ``settings.backend`` (CUDA devices always use "gpu")."""
    name = "gpu" if device.is_cuda else settings.backend
    if name == "reference":
        from gpsa.psa.reference import ReferenceBackend

        return ReferenceBackend(settings.p)
    if name == "numba":
        from gpsa.psa.cpu import NumbaBackend

        return NumbaBackend(settings.p, settings.shortlist, settings.rank)
    from gpsa.psa.gpu import GpuBackend

    return GpuBackend(settings, device)


def _workers(threads: int) -> int:
    """Threads over segments for the numba backend: ``threads``, else numba's thread count (1 if
    GPSA_NUMBA_PARALLEL=0)."""
    from gpsa import _numba

    if not _numba.PARALLEL:
        return 1
    if threads > 0:
        return threads
    import numba

    return int(numba.get_num_threads())


def check_sample_window(basis: Basis, settings: PsaSettings) -> int:
    """The first basis sample of the compared window; ConfigError if the window does not fit
    in the basis's samples."""
    first = basis.t0_sample + settings.sample_offset
    if first < 0 or first + settings.samples > basis.n_samples:
        raise ConfigError(
            f"psa.samples: samples {first}..{first + settings.samples} (t0_sample "
            f"{basis.t0_sample} + sample_offset {settings.sample_offset}) do not fit in the "
            f"basis's {basis.n_samples} samples")
    return first


class GridSearchPSA:
    """Grid search of a :class:`Basis` (see the module docstring for the input convention)."""

    def __init__(self, basis: Basis, settings: PsaSettings | None = None,
                 device: str | Device = "cpu") -> None:
        self.basis = basis
        self.settings = settings = settings or PsaSettings()
        self.first_sample = check_sample_window(basis, settings)
        self.device = device if isinstance(device, Device) else select_device(device)
        self.mask = build_mask(settings.mask, settings.segment_order or basis.segment_order)
        self.tables: list[SegmentTable | None] = build_segment_tables(
            basis, self.mask, self.first_sample, settings.samples, settings.coarse_step,
            settings.fine_radius_mm)
        self.basis_window = basis.signals[:, :, self.first_sample:
                                          self.first_sample + settings.samples]
        self.backend = make_backend(settings, self.device)
        self.driver = SearchDriver(self.backend, settings, workers=_workers(settings.threads))
        if self.driver.workers == 1 and isinstance(self.backend, ThreadedBackend):
            self.backend.serial_default = True  # one thread: the serial kernels, no prange
        log.info("GridSearchPSA: %d points, p=%g, %s search, backend %s on %s", len(basis),
                 settings.p, settings.search, self.backend.name, self.device)

    @cached_property
    def basis_grid(self) -> BasisGrid:
        """The basis's lattice index (built on first use: the refinement needs it)."""
        return BasisGrid.from_basis(self.basis)

    @cached_property
    def refine_tables(self) -> RefineTables:
        """The numba refinement's per-instance inputs (built on first refined block)."""
        from gpsa.psa.refine_numba import RefineTables

        return RefineTables(self)

    def prepare(self) -> GridSearchPSA:
        """Per-segment backend setup (low-rank bases, device-resident tables); done lazily by the
        searches otherwise. Call it to keep setup out of timings."""
        self.backend.prepare(self.tables)
        return self

    def run(self, block: CrystalBlock) -> PsaBlock:
        """PSA of every event of ``block`` (see the module docstring)."""
        hits, window, hit_set, t0i, ev_status = self.search(block)
        t_final = self.refine(hits, window, hit_set, t0i)
        return self._assemble(block, hits, block.t0, t_final, ev_status)

    def search(self, block: CrystalBlock) -> tuple[Hits, np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray]:
        """The grid search of a block: (hits, measured window (n, 37, K), masked hit segments
        (n, 37) bool (:func:`~gpsa.psa.loop.masked_segments`), integer T0 (n,), per-event
        status)."""
        s = self.settings
        if block.n_channels < 37:
            raise ConfigError(f"psa: blocks need >= 37 channels (36 segments + core), "
                              f"got {block.n_channels}")
        _, t0i = integer_t0(block.t0, s.default_t0)
        window = measured_window(block.traces, t0i, s.sample_offset, s.samples)
        ev, seg, energy, ev_status = select_hits(block.energies[:, :36], s, self.tables)
        hits = self._initial_hits(ev, seg, energy)
        hit_set = masked_segments(len(block), ev, seg, energy, s)
        with blas_threads():
            residual_loop(hits, window, self.basis_window, self.tables, hit_set, self.driver, s)
        return hits, window, hit_set, t0i, ev_status

    def refine(self, hits: Hits, window: np.ndarray, hit_set: np.ndarray,
               t0i: np.ndarray) -> np.ndarray:
        """Sub-grid and T0 refinement as the settings ask (in place on ``hits``); returns the
        event times (float64 trace samples)."""
        s = self.settings
        if not (s.refine_t0 or s.refine_grid):
            return t0i.astype(np.float64)
        hits.signal[:] = self.basis_window[hits.point]
        return t0i + refine_passes(self._refiner, hits, window, hit_set, s)

    def _refiner(self, hit_set: np.ndarray) -> Any:
        """The numpy reference refinement for the reference backend; the lattice refinement on
        the device for the gpu backend where a numba.cuda kernel runs (CuPy or the CUDA
        simulator: :mod:`gpsa.psa.refine_gpu`); else the numba CPU kernels (the fit always)."""
        reference = self.settings.backend == "reference" and not self.device.is_cuda
        if self.settings.refine_method == "fit":
            if reference:
                from gpsa.psa.fit import FitRefiner

                return FitRefiner(self, hit_set)
            from gpsa.psa.fit_numba import NumbaFitter

            return NumbaFitter(self, hit_set)
        if reference:
            from gpsa.psa.refine import Refiner

            return Refiner(self, hit_set)
        from gpsa.psa.refine_gpu import GpuRefiner, runs_on_device

        if runs_on_device(self):
            return GpuRefiner(self, hit_set)
        from gpsa.psa.refine_numba import NumbaRefiner

        return NumbaRefiner(self, hit_set)

    def _initial_hits(self, ev: np.ndarray, seg: np.ndarray, energy: np.ndarray) -> Hits:
        centre = np.array([t.centre if t is not None else 0 for t in self.tables], np.int64)
        centre_point = np.array([t.points[t.centre] if t is not None else 0
                                 for t in self.tables], np.int64)
        local, point = centre[seg], centre_point[seg]
        m = ev.size
        return Hits(event=ev, segment=seg, energy=energy, rank=ranks(ev), local=local,
                    point=point, fom=np.full(m, np.nan), status=np.zeros(m, np.uint16),
                    signal=np.zeros((m, 37, self.settings.samples), np.float32),
                    offset_mm=np.zeros((m, 3), np.float32))

    def _assemble(self, block: CrystalBlock, hits: Hits, t0_in: np.ndarray,
                  t_final: np.ndarray, ev_status: np.ndarray) -> PsaBlock:
        psa_status = ev_status.copy()
        np.bitwise_or.at(psa_status, hits.event, hits.status)
        events = PsaEvents.from_crystal_block(block, t0=t_final, t1=t0_in,
                                              psa_status=psa_status)
        pos = np.asarray(self.basis.positions, np.float32)[hits.point] + hits.offset_mm
        out = PsaHits.build(
            hits.event, status=hits.status, segment=hits.segment,
            crystal=block.crystal_ids[hits.event].astype(np.int16),
            x=pos[:, 0], y=pos[:, 1], z=pos[:, 2], energy=hits.energy,
            time=t_final[hits.event], fom=hits.fom)
        return PsaBlock(events=events, hits=out)
