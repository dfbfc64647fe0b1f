"""Built-in plugin: the ``summary`` consumer — a JSON digest of the PSA results of a run.

Written at the end (``summary.json`` in the crystal's output folder; ``summary.json.partial``
with ``"complete": false`` when the run did not complete): events, hits, hits per
event histogram, events per psa_status bit, energy sums, first and last timestamps and the
event rate they imply. Run file example::

    [[stage]]
    actor = "summary"
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.block import CrystalBlock, PsaBlock
from gpsa.config.params import Param
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Consumer, RunContext
from gpsa.status import PsaStatus

TICKS_PER_SECOND = 1e8


class RunSummary(Consumer):
    """Counts events, hits and status bits; writes summary.json at the end of the run."""

    name = "summary"
    path = Param(Path, Path("summary.json"), "summary file (relative: in the output folder)",
                 kind="output")

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.out_path = context.output_file(self.path)  # NAME.partial until the run completes
        self.events = self.hits = 0
        self.multiplicity = np.zeros(9, np.int64)  # 0..7, 8 = 8 or more
        self.status = {flag.name: 0 for flag in PsaStatus if flag.name and flag.value}
        self.energy_sum = 0.0
        self.ts: list[int] = []

    def process(self, block: Any) -> None:
        self.events += len(block)
        if isinstance(block, PsaBlock):
            n_hits = block.n_hits
            self.hits += int(n_hits.sum())
            self.multiplicity += np.bincount(np.minimum(n_hits, 8), minlength=9)
            for flag in PsaStatus:
                if flag.name in self.status:
                    self.status[flag.name] += int(np.count_nonzero(
                        block.events.psa_status & flag.value))
            self.energy_sum += float(block.hits.energy.astype(np.float64).sum())
            ts = block.events.timestamps
        elif isinstance(block, CrystalBlock):
            ts = block.timestamps
        else:
            return
        if len(ts):
            self.ts = [int(ts.min()) if not self.ts else min(self.ts[0], int(ts.min())),
                       int(ts.max()) if not self.ts else max(self.ts[1], int(ts.max()))]

    def digest(self) -> dict[str, Any]:
        span = (self.ts[1] - self.ts[0]) / TICKS_PER_SECOND if self.ts else 0.0
        return {"crystal": self.context.crystal, "events": self.events, "hits": self.hits,
                "hits_per_event": self.multiplicity.tolist(), "psa_status": self.status,
                "hit_energy_sum_kev": self.energy_sum,
                "first_timestamp": self.ts[0] if self.ts else None,
                "last_timestamp": self.ts[1] if self.ts else None,
                "acquisition_seconds": span,
                "acquisition_rate_hz": self.events / span if span > 0 else None}

    def finish(self, complete: bool) -> None:
        digest = {**self.digest(), "complete": complete}
        self.out_path.write_text(json.dumps(digest, indent=2) + "\n")


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(RunSummary)
