"""PSA settings: one validated, frozen dataclass.

Every field has a default; :meth:`PsaSettings.from_dict` builds settings from a configuration
mapping and rejects an unknown key or a bad value with a one-line :class:`~gpsa.errors.ConfigError`
naming the key (architecture principle 6). Configuration example (TOML)::

    [psa]
    p = 0.3                 # figure of merit sum |measured - E*basis|^p
    mask = "agata"          # "agata" (3x3 + core), "gretina", or a 36x37 boolean matrix
    samples = 40            # samples compared, starting at T0 + sample_offset
    search = "ags"          # "full" or "ags" (adaptive grid search, coarse then fine)
    ags_keep = 2            # AGS: fine lists of the 2 best coarse points
    threshold_kev = 15.0    # net-charge threshold of a hit segment
    backend = "numba"       # "reference", "numba" or "gpu"
    shortlist = 96          # p = 2 shortlist of K points then exact p on them (0 = exhaustive)
    rank = 32               # p = 2 ranking in 32 principal directions (0 = full dimension)
    refine_t0 = true        # sub-sample T0 (use with refine_grid)
    refine_grid = true      # sub-grid positions (trilinear, 0.5 mm)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from gpsa.errors import ConfigError

MASK_NAMES = ("agata", "gretina")
SEARCHES = ("full", "ags")
BACKENDS = ("reference", "numba", "gpu")
SEGMENT_ORDERS = ("sector-major", "ring-major")
GPU_DTYPES = ("float32", "float16")
TRANSFER_DTYPES = ("float32", "float16", "int16")


@dataclass(frozen=True)
class PsaSettings:
    """Settings of :class:`gpsa.psa.GridSearchPSA` (all validated in ``__post_init__``)."""

    #: Metric exponent p of the figure of merit (any float > 0).
    p: float = 0.3
    #: Channel mask: "agata", "gretina" or a (36, 37) boolean matrix (row = hit segment).
    mask: Any = "agata"
    #: Drop the channels of the event's *other* hit segments from a segment's mask (AGATA).
    mask_other_hits: bool = True
    #: Number of samples compared.
    samples: int = 40
    #: First compared sample relative to T0 (negative includes pre-T0 baseline).
    sample_offset: int = 0
    #: "full" (every basis point of the segment) or "ags" (coarse lattice, then fine list).
    search: str = "full"
    #: AGS coarse lattice: every ``coarse_step``-th grid point along each axis (3 = 6 mm on 2 mm).
    coarse_step: int = 3
    #: AGS fine list of a coarse point: basis points within this Chebyshev distance (mm).
    fine_radius_mm: float = 6.0
    #: AGS: fine lists of this many best coarse points are searched (1 = the public AGS).
    ags_keep: int = 2
    #: Net-charge threshold (keV) for a segment to be searched.
    threshold_kev: float = 15.0
    #: Iterations of the multi-segment residual-subtraction loop.
    iterations: int = 4
    #: Events with more hit segments are not analysed (status TOO_MANY_SEGMENTS).
    max_segments: int = 12
    #: Secondary (not the most energetic) hit segments below this energy: coarse lattice only.
    coarse_only_below_kev: float = 50.0
    #: Search backend: "reference" (numpy), "numba" (CPU) or "gpu" (array-module host code).
    backend: str = "numba"
    #: numba/gpu, p != 2: rank by the p = 2 matrix product, then exact p on the best K (0 = exact).
    shortlist: int = 0
    #: numba: p = 2 ranking in the ``rank`` leading principal directions of each segment's signals
    #: (0 = full dimension); the best 8 (p = 2) or ``shortlist`` points are then scored exactly.
    rank: int = 64
    #: Sub-sample T0 refinement (time shift of the model, cubic interpolation).
    refine_t0: bool = False
    #: T0 refinement: shifts scanned in [-t0_range, +t0_range] samples with step t0_step.
    t0_range: float = 2.0
    t0_step: float = 0.125
    #: Sub-grid position refinement (trilinear interpolation of the basis around the best point).
    refine_grid: bool = False
    #: numba: threads (segments searched concurrently, prange kernels); 0 = numba's thread count.
    threads: int = 0
    #: T0 (sample in the trace) used when ``block.t0`` is NaN.
    default_t0: float = 20.0
    #: Segment numbering of the mask; None = the basis's ``segment_order``.
    segment_order: str | None = None
    #: GPU backend: dtype of the resident basis and of the traces sent to the device.
    gpu_basis_dtype: str = "float32"
    transfer_dtype: str = "float32"
    #: GPU backend: hits per kernel launch chunk and blocks in flight.
    gpu_chunk: int = 4096

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
        _check_int("iterations", self.iterations, lo=1)
        _check_int("max_segments", self.max_segments, lo=1)
        _check_real("coarse_only_below_kev", self.coarse_only_below_kev, lo=0.0)
        _check_choice("backend", self.backend, BACKENDS)
        _check_int("shortlist", self.shortlist, lo=0)
        _check_int("rank", self.rank, lo=0)
        _check_int("threads", self.threads, lo=0)
        _check_real("t0_range", self.t0_range, lo=0.0)
        _check_real("t0_step", self.t0_step, lo=0.0, lo_open=True)
        _check_real("default_t0", self.default_t0, lo=0.0)
        if self.segment_order is not None:
            _check_choice("segment_order", self.segment_order, SEGMENT_ORDERS)
        _check_choice("gpu_basis_dtype", self.gpu_basis_dtype, GPU_DTYPES)
        _check_choice("transfer_dtype", self.transfer_dtype, TRANSFER_DTYPES)
        _check_int("gpu_chunk", self.gpu_chunk, lo=1)
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
