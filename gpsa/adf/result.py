"""What the reader hands out: :class:`AdfBlock` (the decoded frames of one block) and
:class:`AdfStats` (running counters, including what was skipped or refused)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpsa.adf.codecs.psa import PsaBlockV0
from gpsa.adf.header import KEY_DTYPE
from gpsa.adf.keys import KeyTable
from gpsa.block import CrystalBlock, PsaBlock
from gpsa.errors import BlockError

CRYSTAL = "data:crystal"
CCRYSTAL = "data:ccrystal"
PSA = "data:psa"


@dataclass
class AdfStats:
    """Counters kept by a reader over a whole run. ``frames`` counts delivered frames per key name
    (hex spelling for unknown keys, which are counted whether kept or skipped); ``skips`` lists
    ``(offset, n_bytes)`` of byte ranges skipped by resync; ``errors`` the one-line messages of
    errors that resync mode recovered from."""

    source: str = "<bytes>"
    frames: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    blocks: int = 0
    unknown_frames: int = 0
    skipped_bytes: int = 0
    skips: list[tuple[int, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return sum(self.frames.values())

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "frames": dict(self.frames), "n_frames": self.n_frames,
                "bytes": self.bytes, "blocks": self.blocks,
                "unknown_frames": self.unknown_frames, "skipped_bytes": self.skipped_bytes,
                "skips": [list(s) for s in self.skips], "errors": list(self.errors)}


@dataclass(frozen=True, eq=False)
class AdfBlock:
    """The frames of one block, decoded and grouped by key.

    ``values`` maps a key name to its codec's value (CrystalBlock, PsaBlock, TextFrames,
    CompositeFrames, RawFrames, …); ``headers`` and ``offsets`` give every frame's key and file
    offset in file order; ``unknown`` counts frames per key value not in the key table.
    """

    offset: int
    first_frame: int
    headers: np.ndarray
    offsets: np.ndarray
    values: dict[str, Any]
    unknown: dict[int, int]
    keys: KeyTable

    @property
    def crystal(self) -> CrystalBlock | None:
        """The crystal events: data:crystal (ADC traces) or, when the block has none,
        data:ccrystal (preprocessed float32 traces, as the adf-writer stores them)."""
        value = self.values.get(CRYSTAL)
        return self.values.get(CCRYSTAL) if value is None else value

    @property
    def psa(self) -> PsaBlock | None:
        value = self.values.get(PSA)
        return value.block if isinstance(value, PsaBlockV0) else value

    @property
    def frames(self) -> dict[str, Any]:
        """Decoded values of every key other than data:crystal and data:psa."""
        return {k: v for k, v in self.values.items() if k not in (CRYSTAL, CCRYSTAL, PSA)}

    @property
    def n_frames(self) -> int:
        return int(self.headers.shape[0])

    @property
    def n_bytes(self) -> int:
        return int(self.headers["length"].astype(np.int64).sum())

    @property
    def counts(self) -> dict[str, int]:
        """Frames per key name (hex spelling for unknown keys), in order of first appearance."""
        keys = self.headers["key"]
        if keys.size and np.all(keys == keys[0]):
            return {self.keys.label(int(keys[0])): int(keys.size)}
        uniq, first, n = np.unique(keys, return_index=True, return_counts=True)
        order = np.argsort(first)
        return {self.keys.label(int(uniq[i])): int(n[i]) for i in order}

    def __len__(self) -> int:
        return self.n_frames

    @classmethod
    def empty(cls, keys: KeyTable) -> AdfBlock:
        return cls(0, 0, np.zeros(0, KEY_DTYPE), np.zeros(0, np.int64), {}, {}, keys)

    @classmethod
    def concat(cls, blocks: Sequence[AdfBlock]) -> AdfBlock:
        """One block holding all frames of ``blocks`` (values concatenated per key)."""
        if not blocks:
            raise BlockError("AdfBlock.concat: no blocks given")
        names = list(dict.fromkeys(k for b in blocks for k in b.values))
        values: dict[str, Any] = {}
        for name in names:
            parts = [b.values[name] for b in blocks if name in b.values]
            try:
                values[name] = parts[0] if len(parts) == 1 else type(parts[0]).concat(parts)
            except ValueError as exc:  # e.g. data:crystal blocks with different trace shapes
                raise BlockError(f"AdfBlock.concat: cannot join the {name} values of these "
                                 f"blocks ({exc}); iterate over the blocks instead") from None
        unknown: Counter[int] = Counter()
        for b in blocks:
            unknown.update(b.unknown)
        return cls(blocks[0].offset, blocks[0].first_frame,
                   np.concatenate([b.headers for b in blocks]),
                   np.concatenate([b.offsets for b in blocks]), values, dict(unknown),
                   blocks[0].keys)
