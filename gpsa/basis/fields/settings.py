"""Settings of the physical basis generator, typed and checked before any work starts.

Every physics parameter of :func:`gpsa.basis.generate.generate_basis` is a field here, with its
unit in the name or the comment. Defaults and where they come from:

* ``bias_v = 5000`` on the core, segments at 0 V: AGATA crystals run at +4000–5000 V [C].
* ``impurity_a = 0.45``, ``impurity_b = 0.05`` (10¹⁰ cm⁻³ at the front face, and per cm towards
  the back: 0.45 → 0.90): illustrative values inside the 0.4–1.8 range quoted for AGATA
  crystals [R]; the default crystal depletes fully below 5000 V with them.
* ``electron`` / ``hole`` = (μ₀ cm²/Vs, E₀ V/cm, β, μₙ cm²/Vs): Mihailescu et al. 2000, <100>
  (other sets in :data:`gpsa.basis.fields.mobility.PRESETS`), at ``temperature_k = 77``;
  ``electron_111`` / ``hole_111``: the same set's <111> curves, used when ``anisotropic``.
* ``anisotropic = true``: the lattice model of :mod:`gpsa.basis.fields.anisotropy`
  (Mihailescu electrons, Bruyneel holes) with <100> at ``lattice_angle_deg = 45`` from the
  crystal x axis and <001> along the crystal axis; ``false`` drifts along ±E with the <100>
  curve (the isotropic model, byte-identical to gpsa's bases before the anisotropy). Default
  on because it moves the hit segment's T90 by +10 ns on average with a 90° azimuthal pattern
  of ~9 ns amplitude, at ≤ 2× the signal time (bench/results/drift_anisotropy.json,
  docs/basis-physics.md).
* ``cloud_sigma_mm = 0`` (a point charge) and ``diffusion = false``: a finite charge cloud
  (σ along the drift, mm) and its growth by diffusion during the drift, as mjd_siggen's
  ``charge_cloud_size`` / ``use_diffusion``; each carrier's induced current is spread in time
  by ``σ_x / v`` (:mod:`gpsa.basis.fields.diffusion`; off: byte-identical bases).
* ``preamp_tau_ns = 35``, ``n_samples = 56`` at ``sampling_ns = 10``: AGATA basis preparation [P].
* ``sampling = "integrated"``: each sample is the mean of the signal over the sample period
  that ends at its time, ``[t − T, t)`` with ``T = sampling_ns``, as a digitiser's anti-alias
  filter integrates before the clock (``"point"``: the value at ``t``, gpsa's bases before this
  setting, byte-identical). Point samples lead the integrated ones by half a sample on a
  linear signal (bench/results/sampling.json, docs/basis-physics.md "Sampling").
* ``t0_sample = 10``: interaction at sample 10 (10 samples of baseline, 460 ns of signal);
  measured traces are aligned with T0 near sample 11 in AGATA's PSA [P].
* ``crosstalk = 0``, ``smoothing_ns = 0``: the AGATA values are not public; off by default.
* electronics response after the preamp, off by default (bases byte-identical to those before
  these settings): ``shaping_ns`` (θ, ns; 0 = none) and ``shaping_stages`` (n = 1) add n RC
  integrations of time constant θ, e.g. a two-pole preamp's second pole (n = 1);
  ``impulse_response`` names a file of a measured impulse response (``.npy`` or text, one
  column at ``impulse_response_period_ns`` or two columns ``t_ns, h`` from t = 0), convolved
  causally after the preamp and normalised to unit area (:mod:`gpsa.basis.fields.impulse`;
  the basis records its sha256). See docs/basis-physics.md "Electronics response".
* ``field_grid_mm = 1.0``: field grid of the production basis; tests use 2–3 mm.
* geometry (:data:`GEOMETRY_KEYS`, all ``None`` by default = the value of the geometry passed
  to the generator, for gpsa's shapes AGATA's segmentation and a plain 5 × 77 mm bore, as
  before these settings, byte-identical): ``ring_depths`` (6 thicknesses in mm front to back,
  a preset ``"agata"`` / ``"greta"``, or a table by crystal type), ``sector_boundary``
  (``"corners"`` / ``"edges"``), ``sector_direction`` (``"increasing"`` / ``"decreasing"``
  azimuth), the bore ``hole_radius``, ``hole_depth``, ``hole_bottom_radius``,
  ``hole_opening_radius``, ``hole_opening_depth`` (mm) and the contacts' dead layers
  ``outer_contact_mm``, ``core_contact_mm``; see :mod:`gpsa.detector.segmentation` and
  :mod:`gpsa.detector.shape`. :meth:`GeneratorSettings.geometry_of` applies them.
* ``segment_from = "collection"``: a basis point belongs to the segment its hole reaches — the
  segment with the net charge, which is what PSA sees as the hit segment. Field lines are not
  the geometric ring planes (the space charge and the contacted front face bend them towards
  the front), so ``"geometry"`` (``segment_of`` of the point) disagrees for ~13 % of the points
  of the default crystal, those within a few mm of a ring boundary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import tomllib

from gpsa.basis.fields.mobility import DEFAULT_SET, PRESETS
from gpsa.basis.fields.settings_checks import (
    GEOMETRY_KEYS,
    check_geometry,
    check_response,
    number,
    plain,
)
from gpsa.errors import ConfigError

DTYPES = ("float32", "float16")
SEGMENT_FROM = ("collection", "geometry")
SAMPLING = ("point", "integrated")  # as gpsa.basis.fields.response.SAMPLING
#: Settings that change the solved fields (the cache key; the geometry settings enter it
#: through the geometry's fingerprint).
FIELD_KEYS = ("field_grid_mm", "coarsest_grid_mm", "sor_tol", "sor_omega", "bias_v",
              "impurity_a", "impurity_b", "passivated_back")


@dataclass(frozen=True)
class GeneratorSettings:
    # --- fields
    field_grid_mm: float = 1.0  # spacing of the finite-difference grid
    coarsest_grid_mm: float = 4.0  # coarsest level of the coarse-to-fine solve
    sor_tol: float = 1e-6  # largest SOR correction, relative to the bias (weighting: absolute)
    sor_omega: float = 0.0  # over-relaxation factor; 0 = automatic
    bias_v: float = 5000.0  # core bias, segments at 0 V
    impurity_a: float = 0.45  # net donor concentration at the front face, 1e10 cm^-3
    impurity_b: float = 0.05  # its gradient towards the back, 1e10 cm^-3 per cm
    passivated_back: bool = True  # back face passivated (Neumann) rather than a contact
    # --- geometry (None: the geometry's own value)
    ring_depths: Any = None  # 6 ring thicknesses, mm, front to back; "agata", "greta"; by type
    sector_boundary: str | None = None  # sector lines through hexagon "corners" or "edges"
    sector_direction: str | None = None  # sector numbers by "increasing" / "decreasing" azimuth
    hole_radius: float | None = None  # bore (core contact) radius, mm
    hole_depth: float | None = None  # bore length from the back face, mm
    hole_bottom_radius: float | None = None  # rounding of the bore bottom, mm (0 flat)
    hole_opening_radius: float | None = None  # bore radius on the back face, mm (0 none)
    hole_opening_depth: float | None = None  # length of the widening from the back face, mm
    outer_contact_mm: float | None = None  # dead layer of the outer (segment) contact
    core_contact_mm: float | None = None  # dead layer of the core contact around the bore
    # --- drift
    temperature_k: float = 77.0  # mobilities scaled from 77 K (see mobility.py)
    electron: tuple[float, float, float, float] = PRESETS[DEFAULT_SET]["e100"]  # mu0 E0 beta mun
    hole: tuple[float, float, float, float] = PRESETS[DEFAULT_SET]["h100"]
    anisotropic: bool = True  # lattice-dependent drift (anisotropy.py) or along ±E only
    lattice_angle_deg: float = 45.0  # <100> from the crystal x axis (<001> along z)
    electron_111: tuple[float, float, float, float] = PRESETS[DEFAULT_SET]["e111"]
    hole_111: tuple[float, float, float, float] = PRESETS[DEFAULT_SET]["h111"]
    cloud_sigma_mm: float = 0.0  # initial charge-cloud size along the drift (sigma), 0 = point
    diffusion: bool = False  # grow the cloud by diffusion (Einstein D = mu kT/q), diffusion.py
    drift_step_ns: float = 1.0
    max_drift_ns: float = 3000.0
    # --- response
    preamp_tau_ns: float = 35.0
    sampling_ns: float = 10.0
    n_samples: int = 56
    sampling: str = "integrated"  # "integrated": mean over [t − T, t); "point": value at t
    t0_sample: int = 10
    crosstalk: float = 0.0  # fraction of the neighbours' one-sample difference
    smoothing_ns: float = 0.0  # Gaussian sigma, 0 = none
    shaping_ns: float = 0.0  # time constant of extra RC integrations after the preamp, 0 = none
    shaping_stages: int = 1  # number n of those RC stages, (RC)^n
    impulse_response: str | None = None  # file of a measured response (impulse.py), None = none
    impulse_response_period_ns: float | None = None  # its sampling period (or a t_ns column)
    dtype: str = "float32"  # of the basis signals
    segment_from: str = "collection"  # basis segment: electrode the hole reaches, or "geometry"
    chunk_points: int = 2048  # basis points drifted per batch (memory ~ chunk × 37 × 560 × 4 B)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.extra:
            raise ConfigError(f"unknown generator setting {next(iter(self.extra))!r}")
        for name in ("electron", "hole", "electron_111", "hole_111"):
            value = getattr(self, name)
            try:
                vals = tuple(float(v) for v in value)
            except (TypeError, ValueError):
                raise ConfigError(f"generator setting {name!r} must be 4 numbers "
                                  f"(mu0, E0, beta, mun), got {value!r}") from None
            if len(vals) != 4 or vals[0] <= 0 or vals[1] <= 0 or vals[2] <= 0:
                raise ConfigError(f"generator setting {name!r} must be 4 numbers "
                                  f"(mu0 > 0, E0 > 0, beta > 0, mun), got {value!r}")
            object.__setattr__(self, name, vals)
        positive = ("field_grid_mm", "coarsest_grid_mm", "sor_tol", "temperature_k",
                    "drift_step_ns", "max_drift_ns", "sampling_ns")
        for name in positive:
            number(self, name, lo=0.0, strict=True)
        for name in ("preamp_tau_ns", "crosstalk", "smoothing_ns", "impurity_a", "cloud_sigma_mm"):
            number(self, name, lo=0.0)
        number(self, "impurity_b")
        number(self, "lattice_angle_deg")
        number(self, "bias_v")
        number(self, "sor_omega", lo=0.0)
        if self.sor_omega and not 1.0 <= self.sor_omega < 2.0:
            raise ConfigError(f"generator setting 'sor_omega' must be 0 (auto) or in [1, 2), "
                              f"got {self.sor_omega}")
        for name in ("n_samples", "t0_sample", "chunk_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"generator setting {name!r} must be an integer >= 0, "
                                  f"got {value!r}")
        if self.n_samples < 2 or self.chunk_points < 1 or self.t0_sample >= self.n_samples - 1:
            raise ConfigError("generator settings need n_samples >= 2, chunk_points >= 1 and "
                              f"t0_sample < n_samples - 1 (got {self.n_samples}, "
                              f"{self.chunk_points}, {self.t0_sample})")
        ratio = self.sampling_ns / self.drift_step_ns
        if abs(ratio - round(ratio)) > 1e-9:
            raise ConfigError(f"generator setting 'sampling_ns' ({self.sampling_ns}) must be a "
                              f"multiple of 'drift_step_ns' ({self.drift_step_ns})")
        if self.dtype not in DTYPES:
            raise ConfigError(f"generator setting 'dtype' must be one of {DTYPES}, "
                              f"got {self.dtype!r}")
        if self.sampling not in SAMPLING:
            raise ConfigError(f"generator setting 'sampling' must be one of {SAMPLING}, "
                              f"got {self.sampling!r}")
        if self.segment_from not in SEGMENT_FROM:
            raise ConfigError(f"generator setting 'segment_from' must be one of "
                              f"{SEGMENT_FROM}, got {self.segment_from!r}")
        check_geometry(self)
        check_response(self)
        for name in ("passivated_back", "anisotropic", "diffusion"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"generator setting {name!r} must be true or false, "
                                  f"got {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorSettings:
        """Build from a mapping (e.g. a TOML table); an unknown key is a :class:`ConfigError`."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs = {k: v for k, v in data.items() if k in known}
        unknown = {k: v for k, v in data.items() if k not in known}
        return cls(**kwargs, extra=unknown)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> GeneratorSettings:
        """Read a TOML file: the keys of its ``[generator]`` table, or of the whole file when
        it has none. Errors name the file; an unknown key is a :class:`ConfigError`. A relative
        ``impulse_response`` is taken relative to the TOML file's folder."""
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read generator settings: "
                              f"{exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        table = data.get("generator", data)
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: 'generator' must be a table ([generator])")
        response = table.get("impulse_response")
        if isinstance(response, str) and response and not os.path.isabs(response):
            # a file named in a settings file is relative to that file's folder
            table = {**table, "impulse_response": os.path.join(os.path.dirname(path), response)}
        try:
            return cls.from_dict(table)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def replace(self, **changes: Any) -> GeneratorSettings:
        known = {f.name for f in dataclasses.fields(self)} - {"extra"}
        bad = sorted(set(changes) - known)
        if bad:
            raise ConfigError(f"unknown generator setting {bad[0]!r}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("extra")
        for name in ("electron", "hole", "electron_111", "hole_111"):
            out[name] = list(getattr(self, name))
        out["ring_depths"] = plain(self.ring_depths)
        return out

    def geometry_changes(self) -> dict[str, Any]:
        """The geometry settings that are set (not None), as geometry field values."""
        return {k: getattr(self, k) for k in GEOMETRY_KEYS if getattr(self, k) is not None}

    def geometry_of(self, geometry: Any) -> Any:
        """``geometry`` with the geometry settings applied (itself when none is set). A bad
        combination (ring depths that do not add up to the crystal's length, a bore wider than
        the crystal…) is a :class:`ConfigError` naming the setting."""
        changes = self.geometry_changes()
        if not changes:
            return geometry
        if not hasattr(geometry, "replace"):
            raise ConfigError(f"generator setting {next(iter(changes))!r} needs a "
                              f"CrystalGeometry, got {type(geometry).__name__}")
        try:
            return geometry.replace(**changes)
        except ConfigError as exc:
            raise ConfigError(f"generator geometry settings: {exc}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def field_key(self, geometry: dict[str, Any], version: str) -> str:
        """Hash of what determines the solved fields: geometry, field settings, code version."""
        payload = {"geometry": geometry, "version": version,
                   "settings": {k: getattr(self, k) for k in FIELD_KEYS}}
        text = json.dumps(payload, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]
