"""Built and merged events as ADF composite frames, through the generic composite codec.

* :class:`BuiltEvents` ↔ ``event:data:psa`` frames: one per event, its key holding the event
  number and timestamp, its payload the event's data:psa frames in time order.
* :class:`MergedEvents` ↔ ``event:data`` frames: one per event, holding first its
  event:data:psa frame (when it has an AGATA part), then its data:ranc1 frames.

::

    from gpsa.adf import AdfWriter, iter_blocks
    with AdfWriter("events.adf") as w:
        w.write(built_to_frames(built))                    # CompositeFrames, event:data:psa
    for block in iter_blocks("events.adf"):
        built = built_from_frames(block.values["event:data:psa"])

Decoding checks that each composite holds only the sub-frame keys above (one-line
:class:`gpsa.errors.BlockError` otherwise). Frames written by gpsa read back to equal objects
and re-encode to the same bytes; a file whose event:data frames put the ancillary frames first
reads fine but is re-encoded in gpsa's order.
"""

from __future__ import annotations

import numpy as np

from gpsa.adf.codecs.composite import CompositeFrames
from gpsa.adf.codecs.ranc import DEFAULT_KEY, AncillaryFrames
from gpsa.adf.keys import KeyTable
from gpsa.block import PsaBlock
from gpsa.errors import BlockError
from gpsa.globallevel.events import BuiltEvents, MergedEvents, empty_psa
from gpsa.globallevel.window import event_index

AGATA_KEY = "event:data:psa"
MERGED_KEY = "event:data"
PSA_KEY = "data:psa"


def _offsets(parents: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(parents, minlength=n))]).astype(np.int64)


def _check(frames: CompositeFrames, key: str, allowed: dict[str, int]) -> None:
    if not isinstance(frames, CompositeFrames) or frames.key != key:
        got = getattr(frames, "key", type(frames).__name__)
        raise BlockError(f"{key}: expected CompositeFrames of {key}, got {got}")
    bad = np.flatnonzero(~np.isin(frames.child_keys, list(allowed.values())))
    if bad.size:
        j = int(bad[0])
        raise BlockError(f"{key} frame {int(frames.child_parent[j])}: sub-frame key "
                         f"0x{int(frames.child_keys[j]):08X} is not {' or '.join(allowed)}")


def _composite(key: str, children: dict[str, object], parents: dict[str, np.ndarray],
               values: dict[str, int], numbers: np.ndarray,
               timestamps: np.ndarray) -> CompositeFrames:
    if not children:
        return CompositeFrames(key, numbers, timestamps, np.zeros(0, np.uint32),
                               np.zeros(0, np.int64), {})
    return CompositeFrames.build(key, children, parents, values, numbers, timestamps)


def built_to_frames(events: BuiltEvents, keys: KeyTable | str | None = None) -> CompositeFrames:
    """``event:data:psa`` composite frames of ``events`` (key table: AGATA by default)."""
    table = KeyTable.coerce(keys)
    children = {PSA_KEY: events.crystals} if len(events.crystals) else {}
    return _composite(AGATA_KEY, children, {PSA_KEY: event_index(events.offsets)},
                      {PSA_KEY: table.value_of(PSA_KEY)}, events.event_numbers,
                      events.timestamps)


def built_from_frames(frames: CompositeFrames,
                      keys: KeyTable | str | None = None) -> BuiltEvents:
    """:class:`BuiltEvents` from decoded ``event:data:psa`` frames."""
    table = KeyTable.coerce(keys)
    _check(frames, AGATA_KEY, {PSA_KEY: table.value_of(PSA_KEY)})
    crystals = frames.children.get(PSA_KEY, empty_psa())
    if not isinstance(crystals, PsaBlock):
        raise BlockError(f"{AGATA_KEY}: data:psa sub-frames decoded as "
                         f"{type(crystals).__name__}, expected a PsaBlock (data:psa v1)")
    return BuiltEvents(frames.event_numbers, frames.timestamps,
                       _offsets(frames.child_parent, len(frames)), crystals)


def merged_to_frames(events: MergedEvents, keys: KeyTable | str | None = None) -> CompositeFrames:
    """``event:data`` composite frames of ``events``."""
    table = KeyTable.coerce(keys)
    anc_key = events.ancillary.key
    children: dict[str, object] = {}
    parents: dict[str, np.ndarray] = {}
    if len(events.agata):
        children[AGATA_KEY] = built_to_frames(events.agata, table)
        parents[AGATA_KEY] = event_index(events.agata_offsets)
    if len(events.ancillary):
        children[anc_key] = events.ancillary
        parents[anc_key] = event_index(events.ancillary_offsets)
    values = {k: table.value_of(k) for k in children}
    return _composite(MERGED_KEY, children, parents, values, events.event_numbers,
                      events.timestamps)


def merged_from_frames(frames: CompositeFrames, keys: KeyTable | str | None = None, *,
                       ancillary_key: str = DEFAULT_KEY) -> MergedEvents:
    """:class:`MergedEvents` from decoded ``event:data`` frames."""
    table = KeyTable.coerce(keys)
    values = {AGATA_KEY: table.value_of(AGATA_KEY), ancillary_key: table.value_of(ancillary_key)}
    _check(frames, MERGED_KEY, values)
    n = len(frames)
    agata_par = frames.child_parent[frames.child_keys == values[AGATA_KEY]]
    anc_par = frames.child_parent[frames.child_keys == values[ancillary_key]]
    if np.any(np.bincount(agata_par, minlength=n) > 1):
        raise BlockError(f"{MERGED_KEY}: a frame holds more than one {AGATA_KEY} sub-frame")
    agata = (built_from_frames(frames.children[AGATA_KEY], table) if AGATA_KEY in frames.children
             else BuiltEvents.empty())
    anc = frames.children.get(ancillary_key, AncillaryFrames.empty(key=ancillary_key))
    if not isinstance(anc, AncillaryFrames):
        raise BlockError(f"{MERGED_KEY}: {ancillary_key} sub-frames decoded as "
                         f"{type(anc).__name__}, expected AncillaryFrames")
    return MergedEvents(frames.event_numbers, frames.timestamps, agata, _offsets(agata_par, n),
                        anc, _offsets(anc_par, n))
