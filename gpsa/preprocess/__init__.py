"""Preprocessing of crystal traces before PSA, one algorithm per module (AGAPRO order):

* :mod:`.baseline`    — baseline subtraction (mean of the pre-trigger samples) and their rms noise
* :mod:`.calibration` — per-channel gains of the traces (ADC → keV) and energy calibration from a
  coefficient file
* :mod:`.deadseg`     — dead or missing segments rebuilt from the core (core − Σ other segments)
* :mod:`.crosstalk`   — proportional cross-talk correction by the inverse of the cross-talk matrix
* :mod:`.trapezoid`   — trapezoidal (moving-window deconvolution) energy, read at T0 + rise + gap
* :mod:`.tail`        — tail energy: the mean of the last samples (the net charge at the end)
* :mod:`.cfd`         — T0 by digital constant-fraction discrimination on the core
* :mod:`.align`       — traces shifted so that T0 falls on a fixed sample
* :mod:`.normalise`   — vertical normalisation: a channel's final amplitude equals its energy
* :mod:`.netcharge`   — net-charge segments (above a fixed or a noise threshold), too-many-segment
  rejection

Kernels take arrays and return new arrays (inputs are never modified); loops that do not
vectorise in numpy are numba kernels, each tested against a naive Python reference. The
``preprocess`` filter (:mod:`gpsa.actors.preprocess`) chains them and produces the PSA input
convention of :mod:`gpsa.psa.engine`: float32 keV traces, ``t0`` set, segment energies in
``energies[:, :36]``.
"""
