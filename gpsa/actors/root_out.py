"""Built-in plugin: the ``root-writer`` consumer — PSA results as a ROOT tree (uproot).

Tree ``TreeMaster`` (femul-like names), one entry per crystal event:

* core arrays, counter ``nbCores`` (1 per entry at the crystal level): ``coreTS`` (uint64, 10 ns
  ticks), ``coreE0``, ``coreE1`` (keV), ``coreT0`` (samples), ``coreId`` (crystal id),
  ``coreStatus`` (psa_status);
* hit arrays, counter ``nbHits``: ``hitE`` (keV), ``hitX``, ``hitY``, ``hitZ`` (mm), ``hitSg``
  (segment), ``hitId`` (crystal id), ``hitT`` (samples), ``hitStatus``.

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

from gpsa.block import PsaBlock
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

    core = ak.zip({"TS": jag(ev.timestamps, one), "E0": jag(ev.e0, one), "E1": jag(ev.e1, one),
                   "T0": jag(ev.t0, one), "Id": jag(ev.crystal_ids.astype(np.int32), one),
                   "Status": jag(ev.psa_status.astype(np.int32), one)})
    hit = ak.zip({"E": jag(hits.energy, counts), "X": jag(hits.x, counts),
                  "Y": jag(hits.y, counts), "Z": jag(hits.z, counts),
                  "Sg": jag(hits.segment.astype(np.int32), counts),
                  "Id": jag(hits.crystal.astype(np.int32), counts),
                  "T": jag(hits.time, counts), "Status": jag(hits.status.astype(np.int32),
                                                             counts)})
    return {"core": core, "hit": hit}


class RootWriter(Consumer):
    """PSA results as a ROOT tree (femul-like branch names) written with uproot."""

    name = "root-writer"
    path = Param(Path, Path("psa.root"), "ROOT output file (relative: in the output folder)",
                 kind="output")

    def start(self, context: RunContext) -> None:
        super().start(context)
        try:
            import uproot
        except ImportError:
            raise ConfigError("root-writer needs uproot and awkward: pip install "
                              "'gpsa[root]'") from None
        self.out_path = context.output_path(self.path)
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        self.file: Any = uproot.recreate(self.out_path)
        self.tree: Any = None

    def process(self, block: PsaBlock) -> None:
        if len(block) == 0:
            return
        arrays = tree_arrays(block)
        if self.tree is None:
            self.tree = self.file.mktree(TREE, {k: v.type.content for k, v in arrays.items()},
                                         field_name=lambda outer, inner: outer + inner,
                                         counter_name=lambda name: COUNTERS[name])
        self.tree.extend(arrays)

    def stop(self) -> None:
        f = getattr(self, "file", None)
        if f is not None:
            f.close()


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(RootWriter)
