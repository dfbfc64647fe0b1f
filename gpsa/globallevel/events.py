"""Built events in memory: what the event builder and the event merger pass on.

* :class:`BuiltEvents` — AGATA events (one event:data:psa frame each): the crystal events of all
  events in time order as one :class:`gpsa.block.PsaBlock`, CSR ``offsets`` into it, and per
  event a number and a timestamp (its first crystal event's, 10 ns ticks).
* :class:`MergedEvents` — merged events (one event:data frame each): per event at most one AGATA
  event (``agata`` with ``agata_offsets``) and any number of ancillary frames (``ancillary``
  with ``ancillary_offsets``); its fold is the number of parts present (see the merger).

Like :mod:`gpsa.block`, the classes are frozen, validate dtypes and shapes on construction
(one-line :class:`gpsa.errors.BlockError` naming the field) and return new objects from
:meth:`take` and :meth:`concat`. The frame layouts are in ``gpsa/adf/FORMATS.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from gpsa.adf.codecs.ranc import AncillaryFrames
from gpsa.block import PsaBlock, PsaEvents, PsaHits
from gpsa.errors import BlockError
from gpsa.globallevel.window import fold as crystal_fold


def _check_array(cls: str, name: str, arr: Any, dtype: str, n: int | None) -> None:
    if not isinstance(arr, np.ndarray):
        raise BlockError(f"{cls}.{name}: expected a numpy array, got {type(arr).__name__}")
    if arr.dtype != np.dtype(dtype) or arr.ndim != 1:
        raise BlockError(f"{cls}.{name}: expected 1-d {dtype}, got {arr.dtype.name} shape "
                         f"{arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise BlockError(f"{cls}.{name}: length {arr.shape[0]}, expected {n}")


def _check_offsets(cls: str, name: str, offsets: Any, n_events: int, n_rows: int) -> None:
    _check_array(cls, name, offsets, "int64", n_events + 1)
    if offsets[0] != 0 or offsets[-1] != n_rows or np.any(np.diff(offsets) < 0):
        raise BlockError(f"{cls}.{name}: must rise from 0 to {n_rows} (the rows), got "
                         f"{int(offsets[0])}..{int(offsets[-1])}")


def empty_psa() -> PsaBlock:
    """A PsaBlock without events."""
    cols = {name: np.zeros(0, dtypes[0]) for name, (dtypes, _) in PsaEvents._SPEC.items()}
    return PsaBlock(PsaEvents(**cols), PsaHits.empty())


def _select(index: Any, n: int) -> np.ndarray:
    """Bool mask of the events chosen by a slice, bool mask or sorted integer array."""
    sel = np.zeros(n, bool)
    sel[index] = True
    return sel


def _take_csr(offsets: np.ndarray, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the selected events and the new offsets."""
    sizes = np.diff(offsets)
    return (np.repeat(sel, sizes),
            np.concatenate([[0], np.cumsum(sizes[sel])]).astype(np.int64))


def _concat_csr(parts: Sequence[np.ndarray]) -> np.ndarray:
    shift = np.cumsum([0] + [int(p[-1]) for p in parts[:-1]])
    return np.concatenate([[0]] + [p[1:] + s for p, s in zip(parts, shift, strict=True)]
                          ).astype(np.int64)


@dataclass(frozen=True, eq=False)
class BuiltEvents:
    """AGATA events: event ``k`` holds crystal events ``offsets[k]:offsets[k+1]`` of
    ``crystals`` (at least one, time-ordered).

    event_numbers: (n,) uint32, the builder's running event count
    timestamps:    (n,) uint64, 10 ns ticks, the first crystal event's
    offsets:       (n + 1,) int64, CSR into ``crystals``
    crystals:      the crystal events (data:psa), all events back to back
    """

    event_numbers: np.ndarray
    timestamps: np.ndarray
    offsets: np.ndarray
    crystals: PsaBlock

    def __post_init__(self) -> None:
        n = self.event_numbers.shape[0] if isinstance(self.event_numbers, np.ndarray) else None
        _check_array("BuiltEvents", "event_numbers", self.event_numbers, "uint32", None)
        _check_array("BuiltEvents", "timestamps", self.timestamps, "uint64", n)
        if not isinstance(self.crystals, PsaBlock):
            raise BlockError(f"BuiltEvents.crystals: expected a PsaBlock, got "
                             f"{type(self.crystals).__name__}")
        _check_offsets("BuiltEvents", "offsets", self.offsets, int(n or 0), len(self.crystals))
        if np.any(np.diff(self.offsets) == 0):
            raise BlockError("BuiltEvents.offsets: every event needs at least one crystal event")

    def __len__(self) -> int:
        return int(self.event_numbers.shape[0])

    @cached_property
    def fold(self) -> np.ndarray:
        """Distinct crystals per event (int64)."""
        return crystal_fold(self.crystals.events.crystal_ids, self.offsets)

    @property
    def sizes(self) -> np.ndarray:
        """Crystal events per event (int64)."""
        return np.diff(self.offsets)

    @classmethod
    def empty(cls) -> BuiltEvents:
        return cls.build(empty_psa(), np.zeros(1, np.int64), 0)

    @classmethod
    def build(cls, crystals: PsaBlock, offsets: np.ndarray, first_number: int) -> BuiltEvents:
        """Events cut from ``crystals`` by ``offsets``, numbered from ``first_number``, each
        stamped with its first crystal event's timestamp."""
        n = offsets.shape[0] - 1
        numbers = (np.arange(n, dtype=np.int64) + first_number).astype(np.uint32)
        ts = crystals.events.timestamps[offsets[:-1]]
        return cls(numbers, ts.astype(np.uint64), offsets.astype(np.int64), crystals)

    def take(self, index: Any) -> BuiltEvents:
        """Events selected by a slice, bool mask or sorted integer array."""
        sel = _select(index, len(self))
        rows, offsets = _take_csr(self.offsets, sel)
        return BuiltEvents(self.event_numbers[sel], self.timestamps[sel], offsets,
                           self.crystals.take_events(rows))

    @classmethod
    def concat(cls, parts: Sequence[BuiltEvents]) -> BuiltEvents:
        if not parts:
            raise BlockError("BuiltEvents.concat: no events given")
        return cls(np.concatenate([p.event_numbers for p in parts]),
                   np.concatenate([p.timestamps for p in parts]),
                   _concat_csr([p.offsets for p in parts]),
                   PsaBlock.concat([p.crystals for p in parts]))

    def equals(self, other: object) -> bool:
        return (isinstance(other, BuiltEvents) and self.crystals.equals(other.crystals)
                and all(np.array_equal(getattr(self, a), getattr(other, a))
                        for a in ("event_numbers", "timestamps", "offsets")))


@dataclass(frozen=True, eq=False)
class MergedEvents:
    """Merged events: event ``k`` holds AGATA events ``agata_offsets[k]:agata_offsets[k+1]``
    of ``agata`` (zero or one) and ancillary frames ``ancillary_offsets[k]:…[k+1]``.

    event_numbers: (n,) uint32, the merger's running event count
    timestamps:    (n,) uint64, 10 ns ticks on the AGATA clock: the AGATA event's timestamp,
                   or for an ancillary-only event its first frame's timestamp minus the offset
    """

    event_numbers: np.ndarray
    timestamps: np.ndarray
    agata: BuiltEvents
    agata_offsets: np.ndarray
    ancillary: AncillaryFrames
    ancillary_offsets: np.ndarray

    def __post_init__(self) -> None:
        n = self.event_numbers.shape[0] if isinstance(self.event_numbers, np.ndarray) else None
        _check_array("MergedEvents", "event_numbers", self.event_numbers, "uint32", None)
        _check_array("MergedEvents", "timestamps", self.timestamps, "uint64", n)
        if not isinstance(self.agata, BuiltEvents):
            raise BlockError("MergedEvents.agata: expected BuiltEvents")
        if not isinstance(self.ancillary, AncillaryFrames):
            raise BlockError("MergedEvents.ancillary: expected AncillaryFrames")
        _check_offsets("MergedEvents", "agata_offsets", self.agata_offsets, int(n or 0),
                       len(self.agata))
        if np.any(np.diff(self.agata_offsets) > 1):
            raise BlockError("MergedEvents.agata_offsets: at most one AGATA event per event")
        _check_offsets("MergedEvents", "ancillary_offsets", self.ancillary_offsets, int(n or 0),
                       len(self.ancillary))

    def __len__(self) -> int:
        return int(self.event_numbers.shape[0])

    @classmethod
    def empty(cls, n_channels: int = 0) -> MergedEvents:
        zero = np.zeros(1, np.int64)
        return cls(np.zeros(0, np.uint32), np.zeros(0, np.uint64), BuiltEvents.empty(), zero,
                   AncillaryFrames.empty(n_channels), zero.copy())

    @property
    def has_agata(self) -> np.ndarray:
        return np.diff(self.agata_offsets) > 0

    @property
    def has_ancillary(self) -> np.ndarray:
        return np.diff(self.ancillary_offsets) > 0

    @property
    def fold(self) -> np.ndarray:
        """Parts present per event: AGATA (1 if any crystal) + ancillary (1 if any frame)."""
        return self.has_agata.astype(np.int64) + self.has_ancillary

    def take(self, index: Any) -> MergedEvents:
        sel = _select(index, len(self))
        a_rows, a_off = _take_csr(self.agata_offsets, sel)
        r_rows, r_off = _take_csr(self.ancillary_offsets, sel)
        return MergedEvents(self.event_numbers[sel], self.timestamps[sel],
                            self.agata.take(a_rows), a_off, self.ancillary.take(r_rows), r_off)

    @classmethod
    def concat(cls, parts: Sequence[MergedEvents]) -> MergedEvents:
        if not parts:
            raise BlockError("MergedEvents.concat: no events given")
        return cls(np.concatenate([p.event_numbers for p in parts]),
                   np.concatenate([p.timestamps for p in parts]),
                   BuiltEvents.concat([p.agata for p in parts]),
                   _concat_csr([p.agata_offsets for p in parts]),
                   AncillaryFrames.concat([p.ancillary for p in parts]),
                   _concat_csr([p.ancillary_offsets for p in parts]))

    def equals(self, other: object) -> bool:
        return (isinstance(other, MergedEvents) and self.agata.equals(other.agata)
                and self.ancillary.equals(other.ancillary)
                and all(np.array_equal(getattr(self, a), getattr(other, a)) for a in
                        ("event_numbers", "timestamps", "agata_offsets", "ancillary_offsets")))
