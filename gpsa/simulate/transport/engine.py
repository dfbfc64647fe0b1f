"""Public entry points of the transport: :func:`transport_source` (a source at the array centre,
decays → :class:`.table.TransportResult`) and :func:`transport_gammas` (any rays, e.g. a pencil
beam in the tests), both on an :class:`.geometry.ArrayGeometry`.

::

    from gpsa.simulate.transport import ArrayGeometry, parse_source, transport_source
    geom = ArrayGeometry.from_tables("../shared/data/agata", crystals="0-5")
    result = transport_source(geom, parse_source("co60"), 100_000, seed=1)
    result.write("co60.h5")

Gammas are processed in chunks of ``chunk`` (memory: ``chunk × max_points`` slots of ~50 bytes);
each gamma draws from its own random stream (seed, global gamma index), so the output does not
depend on ``chunk`` or on the number of threads. Decay timestamps (10 ns ticks) follow a Poisson
process of rate ``activity_hz`` drawn from ``numpy.random.default_rng(seed)`` with the emission
directions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gpsa import __version__
from gpsa.errors import ConfigError

from ._kernels import transport_kernel
from .geometry import ArrayGeometry
from .physics import C_MM_PER_NS, ELECTRON_MASS_KEV
from .sources import Source
from .table import TransportResult
from .xsection import CrossSections, load_cross_sections

log = logging.getLogger(__name__)

TICKS_PER_SECOND = 100_000_000


@dataclass(frozen=True)
class TransportConfig:
    """Physics and bookkeeping options."""

    #: Rayleigh (coherent) scattering on (its XCOM cross section, Thomson angles).
    rayleigh: bool = False
    #: Point slots per primary gamma; a longer history is flagged (``lost`` > 0, warning).
    max_points: int = 64
    chunk: int = 8192
    #: Source activity for the decay timestamps, Hz.
    activity_hz: float = 1000.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_points <= 65535 or self.chunk < 1 or not self.activity_hz > 0:
            raise ConfigError(f"transport config: need 1 <= max_points <= 65535, chunk >= 1, "
                              f"activity_hz > 0; got {self}")


@dataclass(frozen=True, eq=False)
class GammaHistories:
    """Per-gamma slots from the kernel, flattened to points (gamma-major, in order)."""

    gamma: np.ndarray  # (M,) index of the gamma in the input
    crystal_row: np.ndarray  # (M,) row in the geometry
    xyz: np.ndarray  # (M, 3) crystal frame, mm
    energy: np.ndarray  # (M,) keV
    time: np.ndarray  # (M,) ns
    photon: np.ndarray  # (M,) 0 primary, 1.. annihilation photons
    process: np.ndarray  # (M,) 1 photo, 2 Compton, 3 pair
    interaction: np.ndarray  # (M,) index of the point in its gamma's history
    n_points: np.ndarray  # (G,)
    escaped: np.ndarray  # (G,) keV leaving the array
    lost: np.ndarray  # (G,) keV not recorded (slots full)


def pack(geometry: ArrayGeometry) -> tuple[np.ndarray, ...]:
    """Kernel arrays: rot, trans, shape index, sphere centres, radius², front, grad, par."""
    shapes = geometry.shapes
    front = np.stack([s.front for s in shapes])
    grad = np.stack([(s.back - s.front) / s.length for s in shapes])
    par = np.array([[s.length, s.radius, s.hole_radius, s.bore_start] for s in shapes])
    rot = np.ascontiguousarray(geometry.transform.rotations)
    trans = np.ascontiguousarray(geometry.transform.translations)
    sidx = geometry.shape_index.astype(np.int64)
    half = par[sidx, 0] / 2.0
    centre = trans + rot[:, :, 2] * half[:, None]
    rad2 = par[sidx, 1] ** 2 + half**2
    return rot, trans, sidx, centre, rad2, front, grad, par


def transport_gammas(geometry: ArrayGeometry, origin: np.ndarray, direction: np.ndarray,
                     energy: np.ndarray, *, seed: int = 0, config: TransportConfig | None = None,
                     xs: CrossSections | None = None, first: int = 0) -> GammaHistories:
    """Track gammas (lab origins (G, 3) mm, unit directions (G, 3), energies keV)."""
    config = config or TransportConfig()
    xs = xs or load_cross_sections()
    origin = np.ascontiguousarray(origin, np.float64)
    direction = np.asarray(direction, np.float64)
    direction = np.ascontiguousarray(direction / np.linalg.norm(direction, axis=1, keepdims=True))
    energy = np.ascontiguousarray(energy, np.float64)
    if np.any(energy > xs.e_max) or np.any(energy <= 0):
        raise ConfigError(f"gamma energies must lie in (0, {xs.e_max:g}] keV")
    arrays = pack(geometry)
    parts = []
    for lo in range(0, len(energy), config.chunk):
        hi = min(lo + config.chunk, len(energy))
        n, m = hi - lo, config.max_points
        crow = np.zeros((n, m), np.int32)
        xyz = np.zeros((n, m, 3))
        edep, tns = np.zeros((n, m)), np.zeros((n, m))
        photon, proc = np.zeros((n, m), np.uint8), np.zeros((n, m), np.uint8)
        npts = np.zeros(n, np.int64)
        escaped, lost = np.zeros(n), np.zeros(n)
        transport_kernel(first + lo, np.uint64(seed), origin[lo:hi], direction[lo:hi],
                         energy[lo:hi], *arrays, xs.mu, xs.log_e0, xs.inv_dlog, xs.e_min,
                         ELECTRON_MASS_KEV, C_MM_PER_NS, config.rayleigh, crow, xyz, edep, tns,
                         photon, proc, npts, escaped, lost)
        take = np.arange(m)[None, :] < npts[:, None]
        g, k = np.nonzero(take)
        parts.append((g + lo, crow[take], xyz[take], edep[take], tns[take], photon[take],
                      proc[take], k, npts, escaped, lost))
    cat = [np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(11)]
    if len(cat[10]) and cat[10].max() > 0:
        log.warning("%d gamma histories had more than %d points; their remaining energy is "
                    "counted as lost", int(np.count_nonzero(cat[10])), config.max_points)
    return GammaHistories(gamma=cat[0].astype(np.int64), crystal_row=cat[1].astype(np.int64),
                          xyz=cat[2].reshape(-1, 3), energy=cat[3], time=cat[4],
                          photon=cat[5].astype(np.uint8), process=cat[6].astype(np.uint8),
                          interaction=cat[7].astype(np.int64), n_points=cat[8],
                          escaped=cat[9], lost=cat[10])


def transport_source(geometry: ArrayGeometry, source: Source, n_decays: int, *, seed: int = 0,
                     config: TransportConfig | None = None) -> TransportResult:
    """``n_decays`` decays of ``source``: the interaction points, per-gamma and per-decay
    tables (see :mod:`.table`)."""
    if n_decays < 0:
        raise ConfigError(f"n_decays must be >= 0, got {n_decays}")
    config = config or TransportConfig()
    xs = load_cross_sections()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x7A]))
    event, gamma, origin, direction, energy = source.emit(n_decays, rng)
    ticks = np.cumsum(rng.exponential(TICKS_PER_SECOND / config.activity_hz, n_decays))
    h = transport_gammas(geometry, origin, direction, energy, seed=seed, config=config, xs=xs)
    ids = geometry.crystal_ids[h.crystal_row]
    lab = geometry.transform.to_lab(h.crystal_row, h.xyz) if len(ids) else np.zeros((0, 3))
    points = {"event": event[h.gamma], "gamma": gamma[h.gamma],
              "gamma_energy": energy[h.gamma], "photon": h.photon,
              "interaction": h.interaction, "process": h.process, "crystal_id": ids,
              "x": h.xyz[:, 0], "y": h.xyz[:, 1], "z": h.xyz[:, 2],
              "lab_x": lab[:, 0], "lab_y": lab[:, 1], "lab_z": lab[:, 2],
              "energy": h.energy, "time": h.time}
    deposited = np.bincount(h.gamma, weights=h.energy, minlength=len(energy))
    gammas = {"event": event, "gamma": gamma, "energy": energy, "dir_x": direction[:, 0],
              "dir_y": direction[:, 1], "dir_z": direction[:, 2], "deposited": deposited,
              "escaped": h.escaped, "lost": h.lost, "n_points": h.n_points}
    events = {"event": np.arange(n_decays, dtype=np.int64),
              "timestamp": np.floor(ticks).astype(np.uint64)}
    attrs = {"source": source.name, "lines_kev": list(source.lines_kev), "n_decays": n_decays,
             "seed": int(seed), "geometry": geometry.source,
             "crystal_ids": geometry.crystal_ids.tolist(), "rayleigh": config.rayleigh,
             "cross_sections": xs.source, "activity_hz": config.activity_hz,
             "gpsa_version": __version__}
    return TransportResult(points=points, gammas=gammas, events=events, attrs=attrs)
