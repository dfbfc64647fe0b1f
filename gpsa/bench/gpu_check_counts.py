"""Launches and copies per block of the GPU host code, one call per segment and loop step
("per segment", as before batching) against every segment of a step in one call ("batched"),
for ``gpsa check gpu``: the same block, the same settings, counters of
:mod:`gpsa.psa.gpu_context` reset after the resident tables are made."""

from __future__ import annotations

from typing import Any

from gpsa.basis.model import Basis
from gpsa.block import CrystalBlock
from gpsa.device import Device
from gpsa.psa import GridSearchPSA, PsaSettings
from gpsa.psa.loop import SearchDriver

#: (p, search) rows counted for 1- and 3-interaction blocks.
CONFIGS = ((1.0, "full"), (2.0, "full"), (0.3, "ags"))
SAMPLES = 30


def block_counts(basis: Basis, block: CrystalBlock, device: Device, p: float, search: str,
                 batch: bool) -> dict[str, int]:
    """Counters of one block (``batch``: the batched path, else one call per segment)."""
    s = PsaSettings(samples=SAMPLES, p=p, search=search, backend="gpu", refine_grid=False,
                    refine_t0=False)
    psa = GridSearchPSA(basis, s, device=device)
    backend: Any = psa.backend
    psa.driver = SearchDriver(backend, s, batch=batch)
    if batch:
        backend.prepare(psa.tables)
    else:
        for table in psa.tables:  # resident before the counters start, as prepare does
            if table is not None:
                backend.resident(table)
    backend.counters.reset()
    psa.run(block)
    return dict(backend.counters.snapshot())


def launch_counts(basis: Basis, blocks: dict[int, CrystalBlock],
                  device: Device) -> list[dict[str, Any]]:
    """Per-segment and batched counters per block for every row of :data:`CONFIGS` and every
    interaction count in ``blocks``."""
    rows = []
    for n, block in sorted(blocks.items()):
        for p, search in CONFIGS:
            rows.append({"interactions": n, "p": p, "search": search, "events": len(block),
                         "per_segment": block_counts(basis, block, device, p, search, False),
                         "batched": block_counts(basis, block, device, p, search, True)})
    return rows
