"""Blocks: the unit of work passed between actors (architecture principle 1).

A block is a batch of events held as structure-of-arrays numpy arrays. Two kinds exist:

* :class:`CrystalBlock` — crystal events before PSA: traces ``(n, channels, samples)``, per-channel
  energies, timestamps (10 ns ticks), event numbers, crystal ids, status and T0.
* :class:`PsaBlock` — PSA results: a per-event table (the data:psa crystal part) plus a flat hit
  table whose ``event_index`` points into the event table (non-decreasing, so the hits of one
  event are contiguous).

Blocks are immutable by convention: the dataclasses are frozen and functions return new blocks.
Construction validates every array's dtype and shape and raises :class:`gpsa.errors.BlockError`
with a one-line message naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

import numpy as np

from gpsa.errors import BlockError

#: AGATA: 36 segments + the core read at two gains.
N_SEGMENTS = 36
N_CHANNELS = 38
#: Channel index of the core (low gain) and its second gain in a 38-channel trace array.
CORE = 36
CORE_HIGH_GAIN = 37

T = TypeVar("T", bound="_Table")


@dataclass(frozen=True)
class _Table:
    """Shared validation and slicing for structure-of-arrays tables.

    ``_SPEC`` maps field name to (allowed dtypes, number of extra dimensions). All fields share
    their first dimension, the table length.
    """

    _SPEC: ClassVar[dict[str, tuple[tuple[str, ...], int]]] = {}

    def __post_init__(self) -> None:
        n: int | None = None
        for name, (dtypes, extra_dims) in self._SPEC.items():
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray):
                raise BlockError(f"{type(self).__name__}.{name}: expected a numpy array, "
                                 f"got {type(arr).__name__}")
            if arr.dtype.name not in dtypes:
                raise BlockError(f"{type(self).__name__}.{name}: dtype {arr.dtype.name} not in "
                                 f"{'/'.join(dtypes)}")
            if arr.ndim != 1 + extra_dims:
                raise BlockError(f"{type(self).__name__}.{name}: expected {1 + extra_dims} "
                                 f"dimensions, got shape {arr.shape}")
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise BlockError(f"{type(self).__name__}.{name}: length {arr.shape[0]} differs "
                                 f"from the table length {n}")

    def __len__(self) -> int:
        first = next(iter(self._SPEC))
        return int(getattr(self, first).shape[0])

    def _take_rows(self: T, index: Any) -> dict[str, np.ndarray]:
        return {name: getattr(self, name)[index] for name in self._SPEC}

    @classmethod
    def _concat_rows(cls: type[T], tables: Sequence[T]) -> dict[str, np.ndarray]:
        if not tables:
            raise BlockError(f"{cls.__name__}.concat: no tables given")
        return {name: np.concatenate([getattr(t, name) for t in tables]) for name in cls._SPEC}

    def equals(self, other: object) -> bool:
        """Exact equality of every array (NaN equal to NaN)."""
        if type(other) is not type(self):
            return False
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray):
                if a.shape != b.shape or a.dtype != b.dtype:
                    return False
                if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                    return False
            elif a != b:
                return False
        return True


@dataclass(frozen=True, eq=False)
class CrystalBlock(_Table):
    """A batch of crystal events (before PSA).

    traces:        (n, channels, samples) int16 (ADC) or float32 (preprocessed)
    energies:      (n, channels) float32, keV per channel (core energies in channels 36, 37)
    timestamps:    (n,) uint64, 10 ns ticks (48 bits used by AGATA)
    event_numbers: (n,) uint32
    crystal_ids:   (n,) uint16, 3·cluster + {A:0, B:1, C:2}
    status:        (n,) uint16, 0 = good; bits set by actors (see :mod:`gpsa.status`)
    t0:            (n,) float32, trigger time in samples within the trace (NaN = unknown)
    """

    traces: np.ndarray
    energies: np.ndarray
    timestamps: np.ndarray
    event_numbers: np.ndarray
    crystal_ids: np.ndarray
    status: np.ndarray
    t0: np.ndarray

    _SPEC: ClassVar[dict[str, tuple[tuple[str, ...], int]]] = {
        "traces": (("int16", "float32"), 2),
        "energies": (("float32",), 1),
        "timestamps": (("uint64",), 0),
        "event_numbers": (("uint32",), 0),
        "crystal_ids": (("uint16",), 0),
        "status": (("uint16",), 0),
        "t0": (("float32",), 0),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.energies.shape[1] != self.traces.shape[1]:
            raise BlockError(f"CrystalBlock.energies: {self.energies.shape[1]} channels but traces "
                             f"have {self.traces.shape[1]}")

    @property
    def n_channels(self) -> int:
        return int(self.traces.shape[1])

    @property
    def n_samples(self) -> int:
        return int(self.traces.shape[2])

    @classmethod
    def from_traces(
        cls,
        traces: np.ndarray,
        *,
        energies: np.ndarray | None = None,
        timestamps: np.ndarray | None = None,
        event_numbers: np.ndarray | None = None,
        crystal_ids: np.ndarray | int = 0,
        status: np.ndarray | None = None,
        t0: np.ndarray | None = None,
    ) -> CrystalBlock:
        """Build a block from traces, filling missing fields with defaults (energies 0, timestamps
        and event numbers 0..n-1, status 0, T0 NaN). Given arrays are cast to the block dtypes."""
        traces = np.asarray(traces)
        if traces.ndim != 3:
            raise BlockError(f"CrystalBlock.traces: expected (n, channels, samples), got shape "
                             f"{traces.shape}")
        n, c, _ = traces.shape
        if traces.dtype not in (np.int16, np.float32):
            traces = traces.astype(np.float32)
        ids = np.broadcast_to(np.asarray(crystal_ids, dtype=np.uint16), (n,)).copy()
        return cls(
            traces=traces,
            energies=(np.zeros((n, c), np.float32) if energies is None
                      else np.asarray(energies, dtype=np.float32)),
            timestamps=(np.arange(n, dtype=np.uint64) if timestamps is None
                        else np.asarray(timestamps, dtype=np.uint64)),
            event_numbers=(np.arange(n, dtype=np.uint32) if event_numbers is None
                           else np.asarray(event_numbers, dtype=np.uint32)),
            crystal_ids=ids,
            status=np.zeros(n, np.uint16) if status is None else np.asarray(status, np.uint16),
            t0=np.full(n, np.nan, np.float32) if t0 is None else np.asarray(t0, np.float32),
        )

    def take(self, index: Any) -> CrystalBlock:
        """Rows selected by a slice, boolean mask or integer index array."""
        return CrystalBlock(**self._take_rows(index))

    @classmethod
    def concat(cls, blocks: Sequence[CrystalBlock]) -> CrystalBlock:
        return cls(**cls._concat_rows(blocks))


@dataclass(frozen=True, eq=False)
class PsaEvents(_Table):
    """Per-event part of a PSA result (the 24-byte crystal part of data:psa plus frame key data)."""

    timestamps: np.ndarray  # uint64, 10 ns ticks
    event_numbers: np.ndarray  # uint32
    crystal_ids: np.ndarray  # uint16
    status: np.ndarray  # uint16
    e0: np.ndarray  # float32 keV, core energy, gain 0
    e1: np.ndarray  # float32 keV, core energy, gain 1
    t0: np.ndarray  # float32, core T0 (ns or samples, as the producing actor documents)
    t1: np.ndarray  # float32
    psa_status: np.ndarray  # uint16

    _SPEC: ClassVar[dict[str, tuple[tuple[str, ...], int]]] = {
        "timestamps": (("uint64",), 0),
        "event_numbers": (("uint32",), 0),
        "crystal_ids": (("uint16",), 0),
        "status": (("uint16",), 0),
        "e0": (("float32",), 0),
        "e1": (("float32",), 0),
        "t0": (("float32",), 0),
        "t1": (("float32",), 0),
        "psa_status": (("uint16",), 0),
    }

    @classmethod
    def from_crystal_block(cls, block: CrystalBlock, *, t0: np.ndarray, t1: np.ndarray,
                           psa_status: np.ndarray) -> PsaEvents:
        """The event table of a PSA result for ``block``: key data, crystal ids and status are
        copied, e0/e1 are the core energies (channels 36 and 37; NaN where the block has fewer
        channels), t0/t1/psa_status come from the PSA (cast to the table dtypes)."""
        n, e = len(block), block.energies

        def core(channel: int) -> np.ndarray:
            return e[:, channel].copy() if e.shape[1] > channel else np.full(n, np.nan, np.float32)

        return cls(timestamps=block.timestamps.copy(), event_numbers=block.event_numbers.copy(),
                   crystal_ids=block.crystal_ids.copy(), status=block.status.copy(),
                   e0=core(CORE), e1=core(CORE_HIGH_GAIN), t0=np.asarray(t0, np.float32),
                   t1=np.asarray(t1, np.float32), psa_status=np.asarray(psa_status, np.uint16))


@dataclass(frozen=True, eq=False)
class PsaHits(_Table):
    """Flat table of PSA hits (interactions). ``event_index`` points into :class:`PsaEvents`.

    Positions are in mm in the crystal frame; ``fom`` is the figure of merit of the search (not
    stored in ADF data:psa, NaN when unknown).
    """

    event_index: np.ndarray  # int64, non-decreasing
    status: np.ndarray  # uint16
    segment: np.ndarray  # int16
    crystal: np.ndarray  # int16
    x: np.ndarray  # float32 mm
    y: np.ndarray  # float32 mm
    z: np.ndarray  # float32 mm
    energy: np.ndarray  # float32 keV
    time: np.ndarray  # float32 (T of data:psa)
    t_cc_e: np.ndarray  # float32 drift-time quantities (tCCe, tCCh, tSGe, tSGh)
    t_cc_h: np.ndarray
    t_sg_e: np.ndarray
    t_sg_h: np.ndarray
    fom: np.ndarray  # float32

    _SPEC: ClassVar[dict[str, tuple[tuple[str, ...], int]]] = {
        "event_index": (("int64",), 0),
        "status": (("uint16",), 0),
        "segment": (("int16",), 0),
        "crystal": (("int16",), 0),
        "x": (("float32",), 0),
        "y": (("float32",), 0),
        "z": (("float32",), 0),
        "energy": (("float32",), 0),
        "time": (("float32",), 0),
        "t_cc_e": (("float32",), 0),
        "t_cc_h": (("float32",), 0),
        "t_sg_e": (("float32",), 0),
        "t_sg_h": (("float32",), 0),
        "fom": (("float32",), 0),
    }

    @classmethod
    def empty(cls) -> PsaHits:
        return cls(**{name: np.zeros(0, dtypes[0]) for name, (dtypes, _) in cls._SPEC.items()})

    @classmethod
    def build(cls, event_index: np.ndarray, **columns: np.ndarray) -> PsaHits:
        """Hits from ``event_index`` and any subset of the other columns (cast to the table
        dtypes); missing float columns are NaN except the drift-time ones (0), missing integer
        columns are 0."""
        event_index = np.asarray(event_index, dtype=np.int64)
        m = event_index.shape[0]
        unknown = set(columns) - set(cls._SPEC)
        if unknown:
            raise BlockError(f"PsaHits.build: unknown column(s) {', '.join(sorted(unknown))}")
        out: dict[str, np.ndarray] = {"event_index": event_index}
        for name, (dtypes, _) in cls._SPEC.items():
            if name == "event_index":
                continue
            if name in columns:
                out[name] = np.asarray(columns[name], dtype=dtypes[0])
            elif dtypes[0] == "float32" and name in ("fom", "time"):
                out[name] = np.full(m, np.nan, np.float32)
            else:
                out[name] = np.zeros(m, dtypes[0])
        return cls(**out)


@dataclass(frozen=True, eq=False)
class PsaBlock:
    """PSA results for a batch of crystal events: an event table and a hit table."""

    events: PsaEvents
    hits: PsaHits

    def __post_init__(self) -> None:
        idx = self.hits.event_index
        if idx.size:
            if np.any(np.diff(idx) < 0):
                raise BlockError("PsaBlock.hits.event_index: must be non-decreasing")
            if idx[0] < 0 or idx[-1] >= len(self.events):
                raise BlockError(f"PsaBlock.hits.event_index: values must lie in "
                                 f"[0, {len(self.events)}), got [{idx[0]}, {idx[-1]}]")

    def __len__(self) -> int:
        return len(self.events)

    @property
    def n_hits(self) -> np.ndarray:
        """Number of hits per event, shape (n_events,)."""
        return np.bincount(self.hits.event_index, minlength=len(self.events)).astype(np.int64)

    @property
    def hit_offsets(self) -> np.ndarray:
        """Start of each event's hits in the hit table, shape (n_events + 1,)."""
        return np.concatenate([[0], np.cumsum(self.n_hits)]).astype(np.int64)

    def equals(self, other: object) -> bool:
        return (isinstance(other, PsaBlock) and self.events.equals(other.events)
                and self.hits.equals(other.hits))

    @classmethod
    def concat(cls, blocks: Sequence[PsaBlock]) -> PsaBlock:
        if not blocks:
            raise BlockError("PsaBlock.concat: no blocks given")
        offsets = np.cumsum([0] + [len(b) for b in blocks[:-1]])
        events = PsaEvents(**PsaEvents._concat_rows([b.events for b in blocks]))
        hit_cols = PsaHits._concat_rows([b.hits for b in blocks])
        hit_cols["event_index"] = np.concatenate(
            [b.hits.event_index + off for b, off in zip(blocks, offsets, strict=True)])
        return cls(events=events, hits=PsaHits(**hit_cols))

    def take_events(self, index: np.ndarray | slice) -> PsaBlock:
        """The events selected by ``index`` (slice, bool mask or sorted ints), with their hits."""
        sel = np.zeros(len(self.events), bool)
        sel[index] = True
        new_pos = np.cumsum(sel) - 1
        keep = sel[self.hits.event_index]
        hit_cols = self.hits._take_rows(keep)
        hit_cols["event_index"] = new_pos[self.hits.event_index[keep]].astype(np.int64)
        return PsaBlock(events=PsaEvents(**self.events._take_rows(sel)), hits=PsaHits(**hit_cols))
