"""What the time sorter merges: tables of rows with one uint64 timestamp each.

The sorter needs four things of a table: its length, its ``timestamps`` (uint64, 10 ns ticks),
row selection (an integer index array in any order, or a slice) and concatenation. A table that
has them follows :class:`SortableTable`; two optional members are used when present:
``crystal_ids`` (breaks timestamp ties, uint16) and ``with_status(mask, bit)`` (sets a status
bit on the rows of a boolean mask; needed for ``late = "flag"``).

:class:`gpsa.block.PsaBlock` is the main user; it is adapted by :data:`PSA_ROWS` (its rows are
events, each carrying its hits). :class:`Columns` is a plain table of named columns, e.g. the
soft trigger's ``(timestamps, crystal_ids, energy)`` records. :func:`row_ops` picks the
adapter for a table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gpsa.block import PsaBlock, PsaEvents, PsaHits
from gpsa.errors import BlockError

Index = np.ndarray | slice


@runtime_checkable
class SortableTable(Protocol):
    """A table the sorter can merge (see the module docstring)."""

    def __len__(self) -> int: ...

    @property
    def timestamps(self) -> np.ndarray: ...

    def take(self, index: Index) -> Any: ...

    @classmethod
    def concat(cls, tables: Sequence[Any]) -> Any: ...


#: rows ``[start:stop]`` of a table
Piece = tuple[Any, int, int]


@dataclass(frozen=True)
class RowOps:
    """How the sorter reads and cuts one kind of table."""

    timestamps: Callable[[Any], np.ndarray]
    #: tie key per row (uint16, e.g. crystal ids), or None when the table has none
    ties: Callable[[Any], np.ndarray | None]
    take: Callable[[Any, Index], Any]
    concat: Callable[[Sequence[Any]], Any]
    #: the table with ``bit`` set on the rows of a mask, or None when it has no status
    with_status: Callable[[Any, np.ndarray, int], Any] | None
    #: the pieces' rows concatenated, then reordered by ``order`` (None: kept); the default
    #: cuts, concatenates and takes, a table kind may do it in one pass
    gather: Callable[[Sequence[Piece], np.ndarray | None], Any] | None = None

    def merge(self, pieces: Sequence[Piece], order: np.ndarray | None) -> Any:
        """One table of the pieces' rows in ``order`` (see :attr:`gather`)."""
        if self.gather is not None:
            return self.gather(pieces, order)
        parts = [t if a == 0 and b == len(t) else self.take(t, slice(a, b))
                 for t, a, b in pieces]
        merged = parts[0] if len(parts) == 1 else self.concat(parts)
        return merged if order is None else self.take(merged, order)


def _psa_take(block: PsaBlock, index: Index) -> PsaBlock:
    """Events at ``index`` (slice or integer array in any order), each with its hits."""
    ev, hits = block.events, block.hits
    if isinstance(index, slice):
        start, stop, step = index.indices(len(ev))
        if step != 1:
            raise BlockError("PsaBlock rows: slices with a step are not supported")
        stop = max(start, stop)
        h0, h1 = np.searchsorted(hits.event_index, (start, stop)).tolist()
        hit_cols = hits._take_rows(slice(h0, h1))
        hit_cols["event_index"] = hit_cols["event_index"] - start
        return PsaBlock(PsaEvents(**ev._take_rows(slice(start, stop))), PsaHits(**hit_cols))
    hit_idx, event_index = _hit_order(block.n_hits, np.asarray(index, np.int64))
    hit_cols = hits._take_rows(hit_idx)
    hit_cols["event_index"] = event_index
    return PsaBlock(PsaEvents(**ev._take_rows(index)), PsaHits(**hit_cols))


def _hit_order(counts: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hit rows and new event_index for events reordered by ``order`` (hits grouped by event,
    ``counts`` per event)."""
    offsets = np.cumsum(counts) - counts
    c = counts[order]
    first_out = np.cumsum(c) - c
    hit_idx = np.arange(int(c.sum()), dtype=np.int64) + np.repeat(offsets[order] - first_out, c)
    return hit_idx, np.repeat(np.arange(order.size, dtype=np.int64), c)


_EVENT_COLUMNS = tuple(PsaEvents._SPEC)
_HIT_COLUMNS = tuple(name for name in PsaHits._SPEC if name != "event_index")


def _psa_gather(pieces: Sequence[Piece], order: np.ndarray | None) -> PsaBlock:
    """Events ``[start:stop]`` of each block with their hits, concatenated, then in ``order``.
    Column by column (concatenate, then take while it is in cache); one block built."""
    ev_slices: list[tuple[PsaEvents, int, int]] = []
    hit_slices: list[tuple[PsaHits, int, int]] = []
    counts: list[np.ndarray] = []
    for block, a, b in pieces:
        hit_offsets = np.searchsorted(block.hits.event_index, np.arange(a, b + 1))
        ev_slices.append((block.events, a, b))
        hit_slices.append((block.hits, int(hit_offsets[0]), int(hit_offsets[-1])))
        counts.append(np.diff(hit_offsets))
    n_hits = np.concatenate(counts) if len(counts) > 1 else counts[0]
    if order is None:
        hit_idx = None
        event_index = np.repeat(np.arange(n_hits.size, dtype=np.int64), n_hits)
    else:
        hit_idx, event_index = _hit_order(n_hits, order)

    def column(parts: Sequence[tuple[Any, int, int]], name: str,
               index: np.ndarray | None) -> np.ndarray:
        cols = [getattr(t, name)[a:b] for t, a, b in parts]
        col = cols[0] if len(cols) == 1 else np.concatenate(cols)
        return col if index is None else np.take(col, index)

    events = PsaEvents(**{k: column(ev_slices, k, order) for k in _EVENT_COLUMNS})
    hits = PsaHits(event_index=event_index,
                   **{k: column(hit_slices, k, hit_idx) for k in _HIT_COLUMNS})
    return PsaBlock(events, hits)


def _psa_status(block: PsaBlock, mask: np.ndarray, bit: int) -> PsaBlock:
    status = np.where(mask, block.events.status | np.uint16(bit), block.events.status)
    return PsaBlock(dataclasses.replace(block.events, status=status.astype(np.uint16)),
                    block.hits)


PSA_ROWS = RowOps(timestamps=lambda b: b.events.timestamps, ties=lambda b: b.events.crystal_ids,
                  take=_psa_take, concat=PsaBlock.concat, with_status=_psa_status,
                  gather=_psa_gather)


class Columns:
    """A table of equal-length 1-D numpy columns; ``timestamps`` (uint64) is required,
    ``crystal_ids`` (uint16: ties) and ``status`` (uint16: the late bit) are optional.
    Follows :class:`SortableTable`. ``Columns(timestamps=ts, crystal_ids=c, energy=e)``."""

    def __init__(self, **columns: np.ndarray) -> None:
        if "timestamps" not in columns:
            raise BlockError("Columns: a 'timestamps' column is required")
        cols = {k: np.asarray(v) for k, v in columns.items()}
        n = cols["timestamps"].shape[0]
        for name, col in cols.items():
            if col.ndim != 1 or col.shape[0] != n:
                raise BlockError(f"Columns.{name}: expected shape ({n},), got {col.shape}")
        if cols["timestamps"].dtype != np.uint64:
            raise BlockError(f"Columns.timestamps: dtype {cols['timestamps'].dtype} is not "
                             "uint64")
        self.columns: dict[str, np.ndarray] = cols

    def __len__(self) -> int:
        return int(self.columns["timestamps"].shape[0])

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["columns"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def timestamps(self) -> np.ndarray:
        return self.columns["timestamps"]

    def take(self, index: Index) -> Columns:
        return Columns(**{k: v[index] for k, v in self.columns.items()})

    @classmethod
    def concat(cls, tables: Sequence[Columns]) -> Columns:
        if not tables:
            raise BlockError("Columns.concat: no tables given")
        names = list(tables[0].columns)
        if any(list(t.columns) != names for t in tables):
            raise BlockError("Columns.concat: the tables have different columns")
        return cls(**{k: np.concatenate([t.columns[k] for t in tables]) for k in names})

    def with_status(self, mask: np.ndarray, bit: int) -> Columns:
        if "status" not in self.columns:
            raise BlockError("Columns.with_status: no 'status' column")
        st = self.columns["status"]
        return Columns(**{**self.columns, "status": np.where(mask, st | bit, st).astype(st.dtype)})

    def equals(self, other: object) -> bool:
        return (isinstance(other, Columns) and list(other.columns) == list(self.columns)
                and all(np.array_equal(v, other.columns[k]) for k, v in self.columns.items()))


def _protocol_ops(table: Any) -> RowOps:
    cls = type(table)
    flag = getattr(cls, "with_status", None)
    has_status = flag is not None and (not isinstance(table, Columns)
                                       or "status" in table.columns)
    return RowOps(timestamps=lambda t: t.timestamps,
                  ties=lambda t: getattr(t, "crystal_ids", None),
                  take=lambda t, i: t.take(i), concat=cls.concat,
                  with_status=(lambda t, m, b: t.with_status(m, b)) if has_status else None)


def row_ops(table: Any) -> RowOps:
    """The adapter for ``table``: :data:`PSA_ROWS` for a PsaBlock, the protocol's members for
    a :class:`SortableTable`; :class:`BlockError` otherwise."""
    if isinstance(table, PsaBlock):
        return PSA_ROWS
    if isinstance(table, SortableTable):
        return _protocol_ops(table)
    raise BlockError(f"the time sorter cannot sort a {type(table).__name__}: it needs len(), "
                     "timestamps, take() and concat() (gpsa.globallevel.rows.SortableTable)")
