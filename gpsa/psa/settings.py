"""PSA settings: one validated, frozen dataclass.

Every field has a default; :meth:`PsaSettings.from_dict` builds settings from a configuration
mapping and rejects an unknown key or a bad value with a one-line :class:`~gpsa.errors.ConfigError`
naming the key (architecture principle 6). Each field carries its help text and, where the value
is one of a few names, its choices (``dataclasses.fields(PsaSettings)[i].metadata``): the
``grid-search`` PSA algorithm declares its run-file settings from them, and ``docs/run-file.md``
lists them. In a run file they go in the ``psa`` stage; the defaults (chosen from
``bench/results/psa_accuracy.json``: see the README, "PSA settings") are::

    [[stage]]
    actor = "psa"
    basis = "bases/A-2mm.h5"
    p = 1.0                 # figure of merit sum |measured - E*basis|^p
    mask = "agata"          # "agata" (3x3 + core) or "gretina"
    samples = 40            # samples compared, starting at T0 + sample_offset
    search = "full"         # "full" or "ags" (adaptive grid search: coarse lattice, then fine)
    ags_keep = 2            # ags: fine lists of the 2 best coarse points
    threshold_kev = 15.0    # net-charge threshold of a hit segment
    backend = "numba"       # "reference", "numba" or "gpu"
    shortlist = 0           # p != 2: exact p on every point (K > 0: on the K best by p = 2)
    rank = 64               # p = 2 ranking in 64 principal directions (0 = full dimension)
    refine_t0 = true        # sub-sample T0 (use with refine_grid)
    refine_grid = true      # sub-grid positions (trilinear, down to a sixteenth of a grid step)
    refine_passes = 10      # T0 then positions again, up to 10 times (T0 and radius correlate)
    refine_p = 2.0          # refinement figure of merit: least squares (0 = the search's p)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from gpsa.errors import ConfigError

MASK_NAMES = ("agata", "gretina")
SEARCHES = ("full", "ags")
BACKENDS = ("reference", "numba", "gpu")
SEGMENT_ORDERS = ("sector-major", "ring-major")
GPU_DTYPES = ("float32", "float16")
TRANSFER_DTYPES = ("float32", "float16", "int16")
GPU_KERNELS = ("numba", "raw", "tiled")
REFINE_METHODS = ("lattice", "fit")


def _setting(default: Any, help: str, *, choices: tuple[str, ...] | None = None,
             min: float | None = None) -> Any:
    """A field with its help text, choices and lower bound (read by the grid-search actor and the
    run-file reference; the checks themselves are in ``__post_init__``)."""
    meta: dict[str, Any] = {"help": help}
    if choices is not None:
        meta["choices"] = choices
    if min is not None:
        meta["min"] = min
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class PsaSettings:
    """Settings of :class:`gpsa.psa.GridSearchPSA` (all validated in ``__post_init__``)."""

    p: float = _setting(
        1.0, "exponent p of the figure of merit sum |measured - E*basis|^p over the mask "
        "channels (any p > 0; p = 2 is a matrix product, p < 1 suppresses outliers)")
    mask: Any = _setting(
        "agata", "channels compared for a hit segment: 'agata' = the 3x3 block of sectors x rings "
        "around it plus the core, 'gretina' = +-1 sector with a wider ring window at the front "
        "(from Python also a (36, 37) boolean matrix, row = hit segment)", choices=MASK_NAMES)
    mask_other_hits: bool = _setting(
        True, "leave the channels of the event's other hit segments out of a segment's mask")
    mask_above_kev: float = _setting(
        0.0, "mask_other_hits: leave out the channels of the other hits above this energy only, "
        "keV (0 = of every other hit); a lower-energy hit segment, e.g. a noise fluctuation "
        "just above the net-charge threshold, then stays in its neighbours' comparison (its "
        "model still subtracted); 50 measured in the README", min=0.0)
    samples: int = _setting(
        40, "samples compared per channel, from T0 + sample_offset (must fit in the basis)",
        min=1)
    sample_offset: int = _setting(
        0, "first compared sample relative to T0, samples (negative: include pre-T0 baseline)",
        min=-10_000)
    search: str = _setting(
        "full", "'full' = every basis point of the hit segment; 'ags' = adaptive grid search: "
        "the coarse lattice, then the fine lists of the ags_keep best coarse points",
        choices=SEARCHES)
    coarse_step: int = _setting(
        3, "ags coarse lattice: every coarse_step-th grid point along each axis (3 = 6 mm on a "
        "2 mm grid)", min=1)
    fine_radius_mm: float = _setting(
        6.0, "ags fine list of a coarse point: the basis points within this Chebyshev distance, "
        "mm", min=0.0)
    ags_keep: int = _setting(
        2, "ags: the fine lists of this many best coarse points are searched (1 = the public "
        "AGS)", min=1)
    threshold_kev: float = _setting(
        15.0, "a segment is hit (and searched) when its energy is above this, keV", min=0.0)
    iterations: int = _setting(
        2, "passes of the multi-segment loop (subtract the other hits, search each hit again); "
        "stops early when no hit moves", min=1)
    max_segments: int = _setting(
        12, "events with more hit segments are not analysed (psa_status TOO_MANY_SEGMENTS)",
        min=1)
    coarse_only_below_kev: float = _setting(
        50.0, "secondary hit segments (not the event's most energetic) below this energy are "
        "searched on the coarse lattice only (status COARSE_ONLY), keV", min=0.0)
    backend: str = _setting(
        "numba", "search code on the CPU: 'numba' (compiled kernels), 'reference' (numpy, slow, "
        "the readable truth) or 'gpu' (the GPU host code on numpy); --device cuda always uses "
        "'gpu'", choices=BACKENDS)
    shortlist: int = _setting(
        0, "numba and gpu, p != 2: rank the points by the p = 2 matrix product, then score the "
        "best shortlist points with the exact p (0 = exact p on every point)", min=0)
    rank: int = _setting(
        64, "numba, matrix-product path (p = 2 or shortlist > 0): rank in this many leading "
        "principal directions of each segment's signals, then score the best 8 (p = 2) or "
        "shortlist points exactly (0 = full dimension)", min=0)
    refine_t0: bool = _setting(
        True, "refine T0 by a sub-sample time shift of the model (use with refine_grid)")
    t0_range: float = _setting(
        2.0, "T0 refinement: shifts scanned in [-t0_range, +t0_range], samples", min=0.0)
    t0_step: float = _setting(
        0.0625, "T0 refinement: finest step of the scan (> 0), samples; the scan first steps by "
        "4 x t0_step")
    refine_grid: bool = _setting(
        True, "refine positions between grid points (trilinear interpolation of the basis, "
        "down to a sixteenth of a grid step)")
    refine_passes: int = _setting(
        10, "refine_t0 with refine_grid: passes of T0 then positions (from the quarter steps) "
        "after the first positions, each on the events that moved in the pass before (T0 by "
        "0.01 samples or a hit by 0.01 mm); stops early once at most 1 % of the events moved "
        "(T0 and radius are correlated: each pass moves both further)", min=1)
    refine_p: float = _setting(
        2.0, "exponent of the figure of merit of the lattice refinement (sub-grid positions and "
        "T0): 2 = least squares whatever the search's p (0 = the search's p); the refined hits' "
        "fom is in this exponent", min=0.0)
    refine_method: str = _setting(
        "lattice", "refinement of refine_grid / refine_t0: 'lattice' (sub-grid lattices and a "
        "T0 scan, the figure of merit with exponent p) or 'fit' (least-squares steps on the "
        "continuous position and T0 from the grid search's point)", choices=REFINE_METHODS)
    threads: int = _setting(
        0, "numba: threads searching segments concurrently (0 = numba's thread count; 1 also "
        "selects the single-threaded kernels)", min=0)
    default_t0: float = _setting(
        20.0, "T0 (sample in the trace) used for events whose block.t0 is NaN (no T0 found)",
        min=0.0)
    segment_order: str | None = _setting(
        None, "segment numbering of the mask (unset = the basis's segment_order)",
        choices=SEGMENT_ORDERS)
    gpu_basis_dtype: str = _setting(
        "float32", "gpu: dtype of the basis kept on the device (float16 halves its memory)",
        choices=GPU_DTYPES)
    transfer_dtype: str = _setting(
        "float32", "gpu: dtype of the traces sent to the device (int16 with one scale per "
        "batch)", choices=TRANSFER_DTYPES)
    gpu_chunk: int = _setting(
        4096, "gpu: at most this many hits per step of the array-module search (the numpy "
        "host path; the compiled kernels take every hit of a call in one launch)", min=1)
    gpu_kernel: str = _setting(
        "numba", "gpu: exact-search kernel on a CUDA device: 'numba' (numba.cuda, launched on "
        "CuPy's stream), 'raw' (the CUDA C twin grid_search.cu as a CuPy RawKernel) or 'tiled' "
        "(numba.cuda, several hits per block on a candidate-minor copy of the basis: the batched "
        "full search and AGS coarse stage; never run on a GPU yet)",
        choices=GPU_KERNELS)

    def __post_init__(self) -> None:
        _check_real("p", self.p, lo=0.0, lo_open=True)
        for name in ("mask_other_hits", "refine_t0", "refine_grid"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"psa.{name}: expected true/false, got {getattr(self, name)!r}")
        _check_int("samples", self.samples, lo=1)
        _check_int("sample_offset", self.sample_offset, lo=-10_000)
        _check_choice("search", self.search, SEARCHES)
        _check_int("coarse_step", self.coarse_step, lo=1)
        _check_int("ags_keep", self.ags_keep, lo=1)
        _check_real("fine_radius_mm", self.fine_radius_mm, lo=0.0)
        _check_real("threshold_kev", self.threshold_kev, lo=0.0)
        _check_real("mask_above_kev", self.mask_above_kev, lo=0.0)
        _check_int("iterations", self.iterations, lo=1)
        _check_int("max_segments", self.max_segments, lo=1)
        _check_real("coarse_only_below_kev", self.coarse_only_below_kev, lo=0.0)
        _check_choice("backend", self.backend, BACKENDS)
        _check_choice("refine_method", self.refine_method, REFINE_METHODS)
        _check_int("refine_passes", self.refine_passes, lo=1)
        _check_int("shortlist", self.shortlist, lo=0)
        _check_int("rank", self.rank, lo=0)
        _check_int("threads", self.threads, lo=0)
        _check_real("t0_range", self.t0_range, lo=0.0)
        _check_real("t0_step", self.t0_step, lo=0.0, lo_open=True)
        _check_real("refine_p", self.refine_p, lo=0.0)
        _check_real("default_t0", self.default_t0, lo=0.0)
        if self.segment_order is not None:
            _check_choice("segment_order", self.segment_order, SEGMENT_ORDERS)
        _check_choice("gpu_basis_dtype", self.gpu_basis_dtype, GPU_DTYPES)
        _check_choice("transfer_dtype", self.transfer_dtype, TRANSFER_DTYPES)
        _check_int("gpu_chunk", self.gpu_chunk, lo=1)
        _check_choice("gpu_kernel", self.gpu_kernel, GPU_KERNELS)
        if isinstance(self.mask, str):
            _check_choice("mask", self.mask, MASK_NAMES)
        else:
            try:
                m = np.asarray(self.mask)
            except Exception as exc:  # noqa: BLE001 - any conversion failure is a config error
                raise ConfigError(f"psa.mask: not a name or a matrix ({exc})") from None
            if m.shape != (36, 37) or m.dtype.kind not in "bi":
                raise ConfigError(f"psa.mask: a custom mask must be a 36x37 boolean matrix, "
                                  f"got shape {m.shape} dtype {m.dtype}")
            if not np.all(m.astype(bool)[np.arange(36), np.arange(36)]):
                raise ConfigError("psa.mask: a custom mask must include each hit segment's own "
                                  "channel (the diagonal)")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PsaSettings:
        """Settings from a mapping; an unknown key raises ConfigError naming it."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"psa: expected a table of settings, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(f"psa.{key}: unknown setting (known: {', '.join(sorted(known))})")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> PsaSettings:
        """A copy with some fields changed (validated again)."""
        for key in changes:
            if key not in {f.name for f in fields(self)}:
                raise ConfigError(f"psa.{key}: unknown setting")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if not isinstance(self.mask, str):
            out["mask"] = np.asarray(self.mask).astype(bool).tolist()
        return out


def _check_real(name: str, value: Any, *, lo: float, lo_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ConfigError(f"psa.{name}: expected a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < lo or (lo_open and v == lo):
        raise ConfigError(f"psa.{name}: must be {'>' if lo_open else '>='} {lo:g}, got {value!r}")


def _check_int(name: str, value: Any, *, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"psa.{name}: expected an integer, got {value!r}")
    if value < lo:
        raise ConfigError(f"psa.{name}: must be >= {lo}, got {value!r}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"psa.{name}: must be one of {', '.join(choices)}, got {value!r}")
