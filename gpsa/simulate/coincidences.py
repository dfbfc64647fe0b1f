"""Multi-crystal coincidences at the data:psa level (no traces): fast truth for the global level.

A true event (a gamma cascade) at time ``T`` hits ``k`` distinct crystals (``k`` drawn from
``multiplicity``), each crystal event at ``T + U{0..jitter_ticks}``; true events are Poisson in
time at ``rate_hz`` (10 ns ticks). Every crystal event carries its **true event id in
event_numbers**. Optionally an ancillary detector fires for a fraction of the true events,
``delay_ticks + U{0..jitter_ticks}`` after them, plus uncorrelated frames at ``random_hz``
(their event number is :data:`NO_EVENT`).

Random streams are split by purpose, all from ``seed``: the time line (``[seed, 1]``), the
crystal events (``[seed, 2]``) and the ancillary frames (``[seed, 3]``). So the time line
depends only on ``(events, rate_hz, seed)``: the ancillary producer rebuilds it from those
three numbers and is coincident with the crystal events simulated here with the same ones.

::

    sim = simulate_coincidences(20_000, CoincidenceConfig(rate_hz=20_000), seed=1)
    sim.crystals[7]                     # time-ordered PsaBlocks of crystal 7
    sim.sorted_stream(block_size=4096)  # all crystals merged in time (what the sorter gives)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from gpsa.adf.codecs.ranc import AncillaryFrames
from gpsa.block import PsaBlock, PsaEvents, PsaHits
from gpsa.errors import ConfigError

#: Event number of an ancillary frame that belongs to no true event.
NO_EVENT = 0xFFFFFFFF
TICKS_PER_S = 100_000_000
_CHUNK = 65_536


@dataclass(frozen=True)
class AncillaryConfig:
    """The ancillary detector: fires for ``fraction`` of the true events, ``delay_ticks`` +
    U{0..``jitter_ticks``} after them, plus uncorrelated frames at ``random_hz``."""

    fraction: float = 0.5
    delay_ticks: int = 50
    jitter_ticks: int = 2
    random_hz: float = 0.0
    channels: int = 4

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ConfigError(f"ancillary fraction {self.fraction} must lie in [0, 1]")
        if self.jitter_ticks < 0 or self.random_hz < 0 or self.channels < 0:
            raise ConfigError("ancillary jitter_ticks, random_hz and channels must be >= 0")

    @classmethod
    def from_rate(cls, rate_hz: float, coincidence: float, agata_rate_hz: float,
                  **kw: int) -> AncillaryConfig:
        """The ancillary detector described by its own frame rate and the fraction of its
        frames that are coincident with AGATA events arriving at ``agata_rate_hz``."""
        if not 0.0 <= coincidence <= 1.0:
            raise ConfigError(f"coincidence {coincidence} must lie in [0, 1]")
        fraction = coincidence * rate_hz / agata_rate_hz
        if fraction > 1.0:
            raise ConfigError(f"{coincidence:g} of {rate_hz:g} ancillary frames/s coincident "
                              f"needs more than the {agata_rate_hz:g} AGATA events/s")
        return cls(fraction=fraction, random_hz=(1.0 - coincidence) * rate_hz, **kw)


@dataclass(frozen=True)
class CoincidenceConfig:
    """What :func:`simulate_coincidences` makes; checked on construction."""

    n_crystals: int = 40
    rate_hz: float = 20_000.0
    #: P(k = 1), P(k = 2), …: crystals hit per true event (normalised; capped at n_crystals)
    multiplicity: tuple[float, ...] = (0.3, 0.3, 0.2, 0.12, 0.08)
    jitter_ticks: int = 4
    #: P(1), P(2), …: PSA hits per crystal event
    hits: tuple[float, ...] = (0.5, 0.3, 0.2)
    block_size: int = 1000
    start_ticks: int = 1_000
    ancillary: AncillaryConfig | None = field(default=None)

    def __post_init__(self) -> None:
        if self.n_crystals < 1 or self.rate_hz <= 0 or self.block_size < 1:
            raise ConfigError("n_crystals, rate_hz and block_size must be positive")
        if self.jitter_ticks < 0 or self.start_ticks < 0:
            raise ConfigError("jitter_ticks and start_ticks must be >= 0")
        for name in ("multiplicity", "hits"):
            p = np.asarray(getattr(self, name), float)
            if p.size == 0 or np.any(p < 0) or p.sum() <= 0:
                raise ConfigError(f"{name} must be non-negative weights with a positive sum")


@dataclass(frozen=True)
class CoincidenceSim:
    """The simulated run: true event times, per-crystal blocks, ancillary frames."""

    times: np.ndarray  # uint64 (n_events,), true event times
    events: PsaBlock  # every crystal event, in time order (event_numbers = true event id)
    crystals: dict[int, list[PsaBlock]]  # crystal id -> its time-ordered blocks
    ancillary: AncillaryFrames  # time-ordered frames (event_numbers = true id or NO_EVENT)

    @property
    def multiplicity(self) -> np.ndarray:
        """Crystals hit per true event (int64)."""
        return np.bincount(self.events.events.event_numbers, minlength=len(self.times))

    def sorted_stream(self, block_size: int) -> Iterator[PsaBlock]:
        """All crystal events in non-decreasing time order, in blocks of ``block_size``."""
        return split_block(self.events, block_size)


def split_block(block: PsaBlock, size: int) -> Iterator[PsaBlock]:
    """Consecutive blocks of ``size`` events (the last may be shorter), each cut in time
    proportional to its own size."""
    bounds = block.hit_offsets
    ev, hits = block.events, block.hits
    for a in range(0, len(block), size):
        b = min(a + size, len(block))
        h = slice(int(bounds[a]), int(bounds[b]))
        cols = hits._take_rows(h)
        cols["event_index"] = cols["event_index"] - a
        yield PsaBlock(PsaEvents(**ev._take_rows(slice(a, b))), PsaHits(**cols))


def event_times(n_events: int, rate_hz: float, seed: int, start_ticks: int = 1_000) -> np.ndarray:
    """Poisson event times (uint64 ticks) — depends on ``(n_events, rate_hz, seed)`` only."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
    gaps = rng.exponential(TICKS_PER_S / rate_hz, n_events)
    return (start_ticks + np.floor(np.cumsum(gaps))).astype(np.uint64)


def _pick(p: tuple[float, ...], n: int, rng: np.random.Generator, cap: int) -> np.ndarray:
    w = np.asarray(p, float)
    return np.minimum(rng.choice(w.size, size=n, p=w / w.sum()) + 1, cap).astype(np.int64)


def crystal_events(times: np.ndarray, config: CoincidenceConfig, seed: int) -> PsaBlock:
    """The crystal events of the true events at ``times``, in time order (stable)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2]))
    n, nc = times.shape[0], config.n_crystals
    k = _pick(config.multiplicity, n, rng, nc)
    ids, crys = [], []
    for a in range(0, n, _CHUNK):  # k distinct crystals: the first k of a random permutation
        kk = k[a:a + _CHUNK]
        perm = np.argsort(rng.random((kk.size, nc)), axis=1)[:, : int(kk.max(initial=1))]
        take = np.arange(perm.shape[1])[None, :] < kk[:, None]
        ids.append(np.nonzero(take)[0] + a)
        crys.append(perm[take])
    event = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    crystal = np.concatenate(crys) if crys else np.zeros(0, np.int64)
    m = event.size
    ts = times[event] + rng.integers(0, config.jitter_ticks + 1, m).astype(np.uint64)
    order = np.argsort(ts, kind="stable")
    event, crystal, ts = event[order], crystal[order], ts[order]
    e0 = rng.uniform(50.0, 2000.0, m).astype(np.float32)
    nh = _pick(config.hits, m, rng, 0xFFFF)
    ev = PsaEvents(timestamps=ts, event_numbers=event.astype(np.uint32),
                   crystal_ids=crystal.astype(np.uint16), status=np.zeros(m, np.uint16),
                   e0=e0, e1=e0.copy(), t0=np.zeros(m, np.float32), t1=np.zeros(m, np.float32),
                   psa_status=np.zeros(m, np.uint16))
    idx = np.repeat(np.arange(m, dtype=np.int64), nh)
    share = rng.random(idx.size) + 0.1
    share /= np.bincount(idx, weights=share, minlength=m)[idx]
    xyz = rng.uniform(-35.0, 35.0, (idx.size, 3)).astype(np.float32)
    hits = PsaHits.build(idx, segment=rng.integers(0, 36, idx.size), crystal=crystal[idx],
                         x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], energy=e0[idx] * share)
    return PsaBlock(ev, hits)


def ancillary_frames(times: np.ndarray, config: AncillaryConfig, seed: int) -> AncillaryFrames:
    """Ancillary frames for the true events at ``times`` (time-ordered, stable)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 3]))
    n = times.shape[0]
    hit = np.flatnonzero(rng.random(n) < config.fraction)
    ts = (times[hit].astype(np.int64) + config.delay_ticks
          + rng.integers(0, config.jitter_ticks + 1, hit.size))
    span = (int(times[0]), int(times[-1]) + 1) if n else (0, 1)
    n_random = rng.poisson(config.random_hz * (span[1] - span[0]) / TICKS_PER_S)
    ts = np.concatenate([ts, rng.integers(span[0], span[1], n_random)])
    numbers = np.concatenate([hit, np.full(n_random, NO_EVENT, np.int64)]).astype(np.uint32)
    order = np.argsort(ts, kind="stable")
    m = order.size
    return AncillaryFrames(np.clip(ts[order], 0, None).astype(np.uint64), numbers[order],
                           np.zeros(m, np.uint16),
                           rng.uniform(0.0, 1000.0, (m, config.channels)).astype(np.float32))


def simulate_coincidences(n_events: int, config: CoincidenceConfig | None = None,
                          seed: int = 0) -> CoincidenceSim:
    """``n_events`` true events: their times, crystal events and ancillary frames."""
    config = config or CoincidenceConfig()
    times = event_times(n_events, config.rate_hz, seed, config.start_ticks)
    events = crystal_events(times, config, seed)
    by_crystal: dict[int, list[PsaBlock]] = {}
    cid = events.events.crystal_ids
    order = np.argsort(cid, kind="stable")  # time order kept inside each crystal
    bounds = np.searchsorted(cid[order], np.arange(config.n_crystals + 1))
    for c in range(config.n_crystals):
        rows = order[bounds[c]:bounds[c + 1]]
        by_crystal[c] = list(split_block(events.take_events(rows), config.block_size))
    anc = (ancillary_frames(times, config.ancillary, seed) if config.ancillary is not None
           else AncillaryFrames.empty())
    return CoincidenceSim(times, events, by_crystal, anc)
