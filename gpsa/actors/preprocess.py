"""Built-in plugin: the ``preprocess`` filter — raw crystal blocks to the PSA input convention.

Steps, in order (each one module of :mod:`gpsa.preprocess`): baseline subtraction, trace gains
(ADC → keV), energy calibration (coefficient file) or trapezoidal energies, dead-segment rebuild,
cross-talk correction, T0 by CFD on the core, alignment of T0 to a fixed sample, vertical
normalisation, net-charge segments. Output: float32 keV traces, ``t0`` set, segment energies in
``energies[:, :36]`` (core in 36/37). Run file example::

    [[stage]]
    actor = "preprocess"
    baseline_samples = 15
    kev_per_adc = 0.25
    core_low_gain_kev_per_adc = 1.0
    calibration = "calib/{crystal}.cal"   # optional energy coefficients
    crosstalk = "xtalk/{crystal}.txt"     # optional 37x37 matrix
    dead_segments = []
    align_t0 = 20
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from gpsa.block import CORE, CrystalBlock
from gpsa.config.params import Param
from gpsa.plugins.hookspecs import hookimpl
from gpsa.preprocess.align import align_traces
from gpsa.preprocess.baseline import subtract_baseline
from gpsa.preprocess.calibration import (
    apply_trace_gains,
    calibrate_energies,
    read_coefficients,
    trace_gains,
)
from gpsa.preprocess.cfd import cfd_t0
from gpsa.preprocess.crosstalk import correct_crosstalk, read_matrix
from gpsa.preprocess.deadseg import rebuild_dead_segments
from gpsa.preprocess.netcharge import net_charge
from gpsa.preprocess.normalise import normalise_traces
from gpsa.preprocess.trapezoid import trapezoid_energy
from gpsa.runtime.actor import Filter, RunContext
from gpsa.status import EventStatus

log = logging.getLogger(__name__)


class Preprocess(Filter):
    """Calibration, cross-talk, T0 (CFD), alignment, net-charge segments: the PSA input."""

    name = "preprocess"
    thread_safe = True
    input_readers = {"calibration": read_coefficients, "crosstalk": read_matrix}
    baseline_samples = Param(int, 15, "pre-trigger samples averaged as baseline (0: none)",
                             min=0)
    kev_per_adc = Param(float, 0.25, "trace gain of segments and core high gain, keV/ADC")
    core_low_gain_kev_per_adc = Param(float, 1.0, "trace gain of the core low gain (36)")
    energy = Param(str, "block", "segment energies: from the block or a trapezoid on traces",
                   choices=("block", "trapezoid"))
    calibration = Param(Path, None, "energy coefficient file 'channel offset gain'",
                        kind="input")
    trapezoid_rise = Param(int, 10, "trapezoid rise, samples", min=1)
    trapezoid_gap = Param(int, 5, "trapezoid flat top, samples", min=0)
    decay_samples = Param(float, 0.0, "preamplifier decay for the trapezoid (0: none)", min=0.0)
    dead_segments = Param(list[int], [], "segments rebuilt from the core", min=0, max=35)
    crosstalk = Param(Path, None, "37x37 cross-talk matrix file", kind="input")
    t0 = Param(str, "cfd", "T0 method: CFD on the core, or keep the block's", choices=(
        "cfd", "keep"))
    cfd_fraction = Param(float, 0.3, "CFD fraction", min=0.01, max=0.99)
    cfd_delay = Param(int, 4, "CFD delay, samples", min=1)
    cfd_threshold_kev = Param(float, 20.0, "CFD arming threshold on the core, keV", min=0.0)
    t0_offset = Param(float, 0.0, "added to the CFD T0, samples")
    align_t0 = Param(int, -1, "shift traces so that T0 is at this sample (-1: no shift)",
                     min=-1)
    normalise = Param(bool, False, "scale hit channels so that their amplitude is their energy")
    netcharge_threshold_kev = Param(float, 15.0, "segment energy threshold of net charge",
                                    min=0.0)
    max_segments = Param(int, 12, "events with more hit segments are flagged REJECTED", min=1)

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.coeffs = read_coefficients(self.calibration) if self.calibration else None
        self.xt = read_matrix(self.crosstalk) if self.crosstalk else None
        self._lock = threading.Lock()
        self.events_seen = self.no_t0_events = 0

    def process(self, block: CrystalBlock) -> CrystalBlock:
        traces = subtract_baseline(block.traces, self.baseline_samples)
        if block.traces.dtype == np.int16:
            traces = apply_trace_gains(traces, trace_gains(
                self.kev_per_adc, self.core_low_gain_kev_per_adc, traces.shape[1]))
        if self.energy == "trapezoid":
            energies = trapezoid_energy(traces, self.trapezoid_rise, self.trapezoid_gap,
                                        self.decay_samples)
        else:
            energies = block.energies
        if self.coeffs is not None:
            energies = calibrate_energies(energies, *self.coeffs)
        status = block.status
        if self.dead_segments:
            traces, energies, status = rebuild_dead_segments(
                traces, energies, status, self.dead_segments, self.netcharge_threshold_kev)
        if self.xt is not None:
            traces, energies = correct_crosstalk(traces, energies, self.xt)
        t0 = block.t0
        if self.t0 == "cfd":
            t0 = cfd_t0(traces[:, CORE], self.cfd_fraction, self.cfd_delay,
                        self.cfd_threshold_kev, self.t0_offset)
            missing = np.isnan(t0)
            status = status | np.where(missing, np.uint16(EventStatus.NO_T0),
                                       np.uint16(0)).astype(np.uint16)
            with self._lock:
                self.events_seen += len(t0)
                self.no_t0_events += int(np.count_nonzero(missing))
        if self.align_t0 >= 0:
            traces, t0 = align_traces(traces, t0, self.align_t0)
        if self.normalise:
            traces = normalise_traces(traces, energies, self.netcharge_threshold_kev)
        energies, status, _ = net_charge(energies, status, self.netcharge_threshold_kev,
                                         self.max_segments)
        return CrystalBlock(traces=traces, energies=energies, timestamps=block.timestamps,
                            event_numbers=block.event_numbers, crystal_ids=block.crystal_ids,
                            status=status, t0=np.asarray(t0, np.float32))

    def flush(self) -> Iterable[CrystalBlock]:
        if self.no_t0_events:
            log.warning("crystal %s: stage %r: %d of %d events have no T0 (the CFD found no "
                        "crossing) and are flagged NO_T0", self.context.crystal or "-",
                        self.label, self.no_t0_events, self.events_seen)
        return ()

    def counters(self) -> dict[str, int]:
        """``no_t0``: events the CFD found no T0 for (flagged NO_T0)."""
        return {"no_t0": getattr(self, "no_t0_events", 0)} if self.t0 == "cfd" else {}


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(Preprocess)
