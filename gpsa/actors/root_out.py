"""Built-in plugin: the ``root-writer`` consumer — PSA results as a ROOT tree (uproot).

Tree ``TreeMaster`` (femul-like names), one entry per crystal event. Every branch is a jagged
array (``type[counter]`` in ROOT terms) with its counter:

=================== ========= ===================================================================
branch              type      content
=================== ========= ===================================================================
``nbCores``         int32     counter of the core arrays: 1 per entry at the crystal level
``coreTS``          uint64    timestamp, 10 ns ticks
``coreEventNumber`` uint32    event number of the crystal event (ADF frame event number)
``coreEventStatus`` uint16    crystal-event status bits (:class:`gpsa.status.EventStatus`:
                              1 SATURATED, 2 PILEUP, 4 NO_T0, 8 DEAD_SEGMENT, 16 REJECTED,
                              32 CORRUPT); 0 = good
``coreE0``          float32   core energy, channel 36 (core low gain), keV
``coreE1``          float32   core energy, channel 37 (core high gain), keV
``coreT0``          float32   T0 used by the PSA, trace samples (10 ns at 100 MHz)
``coreId``          int32     crystal id (3·cluster + shape)
``coreStatus``      int32     PSA status bits of the event (:class:`gpsa.status.PsaStatus`)
``nbHits``          int32     counter of the hit arrays: number of PSA hits of the event
``hitE``            float32   hit energy, keV
``hitX``            float32   hit position x, mm, crystal frame
``hitY``            float32   hit position y, mm, crystal frame
``hitZ``            float32   hit position z, mm, crystal frame (0 at the front face)
``hitSg``           int32     segment index 0–35 (order as configured; default 6·sector + ring)
``hitId``           int32     crystal id of the hit
``hitT``            float32   hit time, trace samples (grid search: the refined T0)
``hitStatus``       int32     PSA status bits of the hit (:class:`gpsa.status.PsaStatus`)
=================== ========= ===================================================================

A run without events still writes ``TreeMaster`` with every branch and zero entries. The same
table is in ``docs/root-output.md``.

Run file example (needs the ``root`` extra: ``pip install 'gpsa[root]'``)::

    [[stage]]
    actor = "root-writer"
    path = "psa.root"
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.block import PsaBlock, PsaEvents, PsaHits
from gpsa.config.params import Param
from gpsa.errors import ConfigError
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Consumer, RunContext

TREE = "TreeMaster"
COUNTERS = {"core": "nbCores", "hit": "nbHits"}


def tree_arrays(block: PsaBlock) -> dict[str, Any]:
    """The awkward record arrays of one block (keys ``core`` and ``hit``)."""
    import awkward as ak

    ev, hits = block.events, block.hits
    one = np.ones(len(ev), np.int64)
    counts = block.n_hits

    def jag(values: np.ndarray, n: np.ndarray) -> Any:
        return ak.unflatten(np.asarray(values), n)

    core = ak.zip({"TS": jag(ev.timestamps, one),
                   "EventNumber": jag(ev.event_numbers.astype(np.uint32), one),
                   "EventStatus": jag(ev.status.astype(np.uint16), one),
                   "E0": jag(ev.e0, one), "E1": jag(ev.e1, one),
                   "T0": jag(ev.t0, one), "Id": jag(ev.crystal_ids.astype(np.int32), one),
                   "Status": jag(ev.psa_status.astype(np.int32), one)})
    hit = ak.zip({"E": jag(hits.energy, counts), "X": jag(hits.x, counts),
                  "Y": jag(hits.y, counts), "Z": jag(hits.z, counts),
                  "Sg": jag(hits.segment.astype(np.int32), counts),
                  "Id": jag(hits.crystal.astype(np.int32), counts),
                  "T": jag(hits.time, counts), "Status": jag(hits.status.astype(np.int32),
                                                             counts)})
    return {"core": core, "hit": hit}


def empty_block() -> PsaBlock:
    """A PSA block without events (gives the branch types of an empty tree)."""
    events = PsaEvents(**{name: np.zeros(0, dtypes[0])
                          for name, (dtypes, _) in PsaEvents._SPEC.items()})
    return PsaBlock(events=events, hits=PsaHits.empty())


def _import_uproot() -> Any:
    """uproot, after checking that it and awkward are installed (the ``root`` extra)."""
    try:
        import awkward  # noqa: F401
        import uproot
    except ImportError:
        raise ConfigError("root-writer needs uproot and awkward: pip install "
                          "'gpsa[root]'") from None
    return uproot


class RootWriter(Consumer):
    """PSA results as a ROOT tree (femul-like branch names) written with uproot."""

    name = "root-writer"
    path = Param(Path, Path("psa.root"), "ROOT output file (relative: in the output folder)",
                 kind="output")

    def check(self, context: RunContext) -> list[str]:
        _import_uproot()
        return []

    def start(self, context: RunContext) -> None:
        super().start(context)
        uproot = _import_uproot()
        self.out_path = context.output_file(self.path)  # NAME.partial until the run completes
        self.file: Any = uproot.recreate(self.out_path)
        self.tree: Any = None

    def process(self, block: PsaBlock) -> None:
        if len(block) == 0:
            return
        arrays = tree_arrays(block)
        self._make_tree(arrays)
        self.tree.extend(arrays)

    def flush(self) -> None:
        if self.tree is None:  # no events: the tree, every branch, zero entries
            self._make_tree(tree_arrays(empty_block()))

    def _make_tree(self, arrays: dict[str, Any]) -> None:
        if self.tree is None:
            self.tree = self.file.mktree(TREE, {k: v.type.content for k, v in arrays.items()},
                                         field_name=lambda outer, inner: outer + inner,
                                         counter_name=lambda name: COUNTERS[name])

    def stop(self) -> None:
        f = getattr(self, "file", None)
        if f is not None:
            f.close()


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(RootWriter)
