"""The search-backend contract and the per-table caches the backends keep.

:class:`SearchBackend` is what :func:`gpsa.psa.engine.make_backend` returns and what the search
driver calls: the reference (:mod:`gpsa.psa.reference`), numba (:mod:`gpsa.psa.cpu`) and GPU
(:mod:`gpsa.psa.gpu`) backends all implement it, and a test checks each one structurally.
:class:`ThreadedBackend` adds what a backend needs to be driven from several worker threads.

``search(table, targets, energies, weights, cand_ptr, cand_idx, hit_group)``
    ``targets`` (m, C, K) float32 measured (residual) traces on the table's mask channels,
    ``energies`` (m,) keV, ``weights`` (m, C) 0/1 channel switches; the candidates of hit ``h``
    are ``cand_idx[cand_ptr[g]:cand_ptr[g + 1]]`` with ``g = hit_group[h]``. Returns
    ``(best (m,) int64 local index into table.points, fom (m,) float64)``, the first candidate
    of least ``Σ_c w_c Σ_k |t − E·b|^p``.
``all_foms(table, targets, energies, weights, cands)``
    (m, L) float64 foms against one shared candidate list (the AGS coarse stage).
``prepare(tables)``
    per-table setup ahead of the first search (may do nothing).

:class:`BatchSearchBackend` adds ``search_batch(tables, batch)``: every hit segment of one
residual-loop step in one call (a :class:`HitBatch`, hits sorted by segment), which the search
driver uses instead of one ``search`` per segment when the backend's ``batches`` is true (the GPU
backend: one upload, at most three launches and one download per step). The CPU backends keep
the per-segment path.

:class:`TableCache` replaces the caches keyed by ``id(table)`` the backends had: ids are reused
once a table is garbage collected, so an id-keyed entry could serve another table's data, and
worker threads filled the dicts without a lock. Entries are keyed by the table object itself (a
:class:`~gpsa.psa.segments.SegmentTable` hashes by identity) in a weak dictionary, so an entry
lives exactly as long as its table, and a lock makes each entry built once.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from gpsa.psa.segments import SegmentTable

V = TypeVar("V")


@runtime_checkable
class SearchBackend(Protocol):
    """A grid-search backend (see the module docstring for the arguments)."""

    name: str

    def prepare(self, tables: list[SegmentTable | None]) -> None: ...

    def search(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
               weights: np.ndarray, cand_ptr: np.ndarray, cand_idx: np.ndarray,
               hit_group: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def all_foms(self, table: SegmentTable, targets: np.ndarray, energies: np.ndarray,
                 weights: np.ndarray, cands: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class HitBatch:
    """The hits of one residual-loop step over every hit segment, sorted by segment."""

    segment: np.ndarray  # (m,) int64 table index (non-decreasing)
    targets: np.ndarray  # (m, C_max, K) float32, zero beyond the table's mask channels
    energies: np.ndarray  # (m,) float32 keV
    weights: np.ndarray  # (m, C_max) float32 0/1, zero beyond the table's mask channels
    coarse_only: np.ndarray  # (m,) bool: search the coarse lattice only

    def __len__(self) -> int:
        return int(self.segment.size)


@runtime_checkable
class BatchSearchBackend(SearchBackend, Protocol):
    """A backend that searches all hit segments of a loop step in one call (``batches``: whether
    its settings allow it). ``search_batch`` returns (best local index into each hit's table,
    fom), as ``search`` does, with the settings' full/AGS search and coarse-only hits."""

    batches: bool

    def search_batch(self, tables: list[SegmentTable | None],
                     batch: HitBatch) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class ThreadedBackend(SearchBackend, Protocol):
    """A backend whose segments may be searched from several worker threads: each worker calls
    ``serial_in_this_thread()`` once (its own kernels then run single-threaded), and
    ``serial_default = True`` selects the single-threaded kernels when there is one worker."""

    serial_default: bool

    def serial_in_this_thread(self) -> None: ...


class TableCache(Generic[V]):
    """Values derived from segment tables, built once per table under a lock (module docstring).
    ``build`` runs while the lock is held, so two threads never build the same entry."""

    def __init__(self, build: Callable[[SegmentTable], V]) -> None:
        self._build = build
        self._entries: weakref.WeakKeyDictionary[SegmentTable, V] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, table: SegmentTable) -> V:
        value = self._entries.get(table)
        if value is not None:
            return value
        with self._lock:
            value = self._entries.get(table)
            if value is None:
                value = self._build(table)
                self._entries[table] = value
            return value

    def values(self) -> Iterator[V]:
        with self._lock:
            items = list(self._entries.values())
        return iter(items)

    def __len__(self) -> int:
        return len(self._entries)
