"""Built-in plugin: the ``preprocess`` filter — raw crystal blocks to the PSA input convention.

Steps, in order (each one module of :mod:`gpsa.preprocess`): baseline subtraction, trace gains
(ADC → keV), energy calibration (coefficient file) of the block's energies or of energies
measured on the traces (tail or trapezoid), dead-segment rebuild, cross-talk correction, T0 by
CFD on the core, alignment of T0 to a fixed sample, vertical normalisation, net-charge segments.
The trapezoid is read at a fixed time after T0, so with ``energy = "trapezoid"`` the CFD runs
first, on the core before the cross-talk correction. Energies measured on the traces come with
their noise (from the rms of the baseline samples): a segment carries net charge when its
energy is above ``max(netcharge_threshold_kev, noise_threshold_sigma·σ_E)``. Output: float32 keV
traces, ``t0`` set, segment energies in ``energies[:, :36]`` (core in 36/37). Run file example::

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
from gpsa.preprocess.baseline import baseline_sigma, subtract_baseline
from gpsa.preprocess.calibration import (
    apply_trace_gains,
    calibrate_energies,
    read_coefficients,
    trace_gains,
)
from gpsa.preprocess.cfd import cfd_t0
from gpsa.preprocess.crosstalk import correct_crosstalk, read_matrix
from gpsa.preprocess.deadseg import rebuild_dead_segments
from gpsa.preprocess.netcharge import net_charge, noise_threshold
from gpsa.preprocess.normalise import normalise_traces
from gpsa.preprocess.tail import tail_energy, tail_sigma
from gpsa.preprocess.trapezoid import readout_samples, trapezoid_energy, trapezoid_sigma
from gpsa.runtime.actor import Filter, RunContext
from gpsa.status import EventStatus

log = logging.getLogger(__name__)

#: The trace that check() holds the trapezoid readout against: T0 at sample 20 of 100 samples
#: (gpsa's simulator; AGATA reads ~100 samples, 1 µs, per signal).
NOMINAL_T0, NOMINAL_SAMPLES = 20, 100


class Preprocess(Filter):
    """Calibration, cross-talk, T0 (CFD), alignment, net-charge segments: the PSA input."""

    name = "preprocess"
    thread_safe = True
    input_readers = {"calibration": read_coefficients, "crosstalk": read_matrix}
    baseline_samples = Param(int, 15, "pre-trigger samples averaged as baseline (0: none)",
                             min=0)
    kev_per_adc = Param(float, 0.25, "trace gain of segments and core high gain, keV/ADC")
    core_low_gain_kev_per_adc = Param(float, 1.0, "trace gain of the core low gain (36)")
    energy = Param(str, "block", "segment energies: the block's (the DAQ's), 'tail' = the mean "
                   "of the last tail_samples samples of the trace (needs no T0), 'trapezoid' = "
                   "the trapezoid read at T0 + rise + gap - 1", choices=("block", "tail",
                                                                          "trapezoid"))
    calibration = Param(Path, None, "energy coefficient file 'channel offset gain'",
                        kind="input")
    tail_samples = Param(int, 20, "energy = 'tail': samples averaged at the trace's end; they "
                         "must follow the charge collection (~46 samples after T0): 20 of 100 "
                         "samples allow T0 up to sample 34", min=1)
    trapezoid_rise = Param(int, 20, "trapezoid rise (averaging window), samples; noise "
                           "sigma x sqrt(2/rise)", min=1)
    trapezoid_gap = Param(int, 46, "trapezoid flat top, samples: at least the charge collection "
                          "(99.9 % of the core's charge within 46 samples of T0); with T0 at "
                          "sample 20 the defaults read sample 85", min=0)
    decay_samples = Param(float, 0.0, "preamplifier decay deconvolved by the tail and the "
                          "trapezoid, samples (0: none)", min=0.0)
    noise_threshold_sigma = Param(float, 5.0, "tail and trapezoid energies: a segment carries "
                                  "net charge above max(netcharge_threshold_kev, k x sigma_E), "
                                  "sigma_E propagated from the rms of the baseline samples "
                                  "(0: the fixed threshold only; block energies always)",
                                  min=0.0)
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
        self.noise_removed = self.readout_at_max = self.readout_clipped = 0

    def check(self, context: RunContext) -> list[str]:
        """Input files parse; warns when the trapezoid's readout, for T0 at sample 20 of a
        100-sample trace, falls past the trace's end (it is then clipped to the last sample)."""
        warnings = super().check(context)
        end = NOMINAL_T0 + self.trapezoid_rise + self.trapezoid_gap - 1
        if self.energy == "trapezoid" and end >= NOMINAL_SAMPLES:
            warnings.append(
                f"trapezoid_rise + trapezoid_gap = {self.trapezoid_rise + self.trapezoid_gap}: "
                f"the readout for T0 at sample {NOMINAL_T0} is sample {end}, past the end of a "
                f"{NOMINAL_SAMPLES}-sample trace (read at its last sample instead)")
        return warnings

    def process(self, block: CrystalBlock) -> CrystalBlock:
        traces = subtract_baseline(block.traces, self.baseline_samples)
        if block.traces.dtype == np.int16:
            traces = apply_trace_gains(traces, trace_gains(
                self.kev_per_adc, self.core_low_gain_kev_per_adc, traces.shape[1]))
        status, t0 = block.status, block.t0
        if self.energy == "trapezoid":  # read at a fixed time after T0: T0 first
            t0, status = self._t0(traces, t0, status)
            energies = self._trapezoid(traces, t0)
        elif self.energy == "tail":
            energies = tail_energy(traces, self.tail_samples, self.decay_samples)
        else:
            energies = block.energies
        if self.coeffs is not None:
            energies = calibrate_energies(energies, *self.coeffs)
        if self.dead_segments:
            traces, energies, status = rebuild_dead_segments(
                traces, energies, status, self.dead_segments, self.netcharge_threshold_kev)
        if self.xt is not None:
            traces, energies = correct_crosstalk(traces, energies, self.xt)
        if self.energy != "trapezoid":
            t0, status = self._t0(traces, t0, status)
        threshold = self._threshold(traces, energies)
        if self.align_t0 >= 0:
            traces, t0 = align_traces(traces, t0, self.align_t0)
        if self.normalise:
            traces = normalise_traces(traces, energies, self.netcharge_threshold_kev)
        energies, status, _ = net_charge(energies, status, threshold, self.max_segments)
        return CrystalBlock(traces=traces, energies=energies, timestamps=block.timestamps,
                            event_numbers=block.event_numbers, crystal_ids=block.crystal_ids,
                            status=status, t0=np.asarray(t0, np.float32))

    def _t0(self, traces: np.ndarray, t0: np.ndarray, status: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
        """(T0, status): the block's T0, or the CFD's on the core (NaN flagged NO_T0)."""
        if self.t0 != "cfd":
            return t0, status
        t0 = cfd_t0(traces[:, CORE], self.cfd_fraction, self.cfd_delay,
                    self.cfd_threshold_kev, self.t0_offset)
        missing = np.isnan(t0)
        status = status | np.where(missing, np.uint16(EventStatus.NO_T0),
                                   np.uint16(0)).astype(np.uint16)
        with self._lock:
            self.events_seen += len(t0)
            self.no_t0_events += int(np.count_nonzero(missing))
        return t0, status

    def _trapezoid(self, traces: np.ndarray, t0: np.ndarray) -> np.ndarray:
        """Trapezoid energies read at T0 + rise + gap - 1 (the maximum where T0 is NaN)."""
        rise, gap = self.trapezoid_rise, self.trapezoid_gap
        at = readout_samples(t0, rise, gap, traces.shape[-1])
        wanted = np.floor(np.asarray(t0, np.float64) + 0.5) + rise + gap - 1
        with self._lock:
            self.readout_at_max += int(np.count_nonzero(at < 0))
            self.readout_clipped += int(np.count_nonzero((at >= 0) & (wanted > at)))
        return trapezoid_energy(traces, rise, gap, self.decay_samples, t0=t0)

    def _threshold(self, traces: np.ndarray, energies: np.ndarray) -> float | np.ndarray:
        """The net-charge threshold: fixed for the block's energies, else per event and segment
        ``max(netcharge_threshold_kev, k·σ_E)`` (segments it removes are counted)."""
        fixed = self.netcharge_threshold_kev
        k = self.noise_threshold_sigma
        if self.energy == "block" or k <= 0 or self.baseline_samples < 2:
            return fixed
        sigma = baseline_sigma(traces, self.baseline_samples)
        if self.energy == "tail":
            sigma_e = tail_sigma(sigma, self.tail_samples, self.baseline_samples)
        else:
            sigma_e = trapezoid_sigma(sigma, self.trapezoid_rise)
        if self.coeffs is not None:  # energies in calibrated units
            sigma_e = sigma_e * np.abs(self.coeffs[1][None, :sigma_e.shape[1]])
        threshold = noise_threshold(sigma_e, k, fixed)
        seg = energies[:, :threshold.shape[1]]
        removed = int(np.count_nonzero((seg > fixed) & (seg <= threshold)))
        with self._lock:
            self.noise_removed += removed
        return threshold

    def flush(self) -> Iterable[CrystalBlock]:
        if self.no_t0_events:
            log.warning("crystal %s: stage %r: %d of %d events have no T0 (the CFD found no "
                        "crossing) and are flagged NO_T0", self.context.crystal or "-",
                        self.label, self.no_t0_events, self.events_seen)
        if self.readout_clipped:
            log.warning("crystal %s: stage %r: the trapezoid readout of %d events fell past the "
                        "trace's end (read at its last sample): trapezoid_rise + trapezoid_gap "
                        "too long for the trace", self.context.crystal or "-", self.label,
                        self.readout_clipped)
        if self.noise_removed:
            log.info("crystal %s: stage %r: the noise threshold removed %d segments above "
                     "netcharge_threshold_kev", self.context.crystal or "-", self.label,
                     self.noise_removed)
        return ()

    def counters(self) -> dict[str, int]:
        """``no_t0``: events the CFD found no T0 for (flagged NO_T0). Energies on the traces:
        ``noise_removed_segments``, segments above ``netcharge_threshold_kev`` but below the
        noise threshold; trapezoid: ``readout_at_max``, events read at the maximum for lack of
        a T0, and ``readout_clipped``, events whose readout fell past the trace's end."""
        out = {"no_t0": getattr(self, "no_t0_events", 0)} if self.t0 == "cfd" else {}
        if self.energy != "block":
            out["noise_removed_segments"] = getattr(self, "noise_removed", 0)
        if self.energy == "trapezoid":
            out["readout_at_max"] = getattr(self, "readout_at_max", 0)
            out["readout_clipped"] = getattr(self, "readout_clipped", 0)
        return out


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(Preprocess)
