"""Built-in plugin: the ``post-psa`` filter — corrections of PSA results before merging.

In order: time-evolution gain drift (``TimeEvoCC.conf``), energy recalibration (polynomial),
crystal → lab transform of the hit positions (a ``crmat`` table; data:psa then carries lab
coordinates, mm). Energies corrected: the event's core energies ``e0``/``e1`` and every hit's.
Run file example::

    [[stage]]
    actor = "post-psa"
    gain_drift = "Conf/{crystal}/TimeEvoCC.conf"
    recalibration = [0.0, 1.0]
    lab_transform = "GANIL_AGATA_crmat.dat"     # optional
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gpsa.block import PsaBlock
from gpsa.config.params import Param
from gpsa.plugins.hookspecs import hookimpl
from gpsa.postpsa.gaindrift import read_gain_table
from gpsa.postpsa.recalibrate import recalibrate
from gpsa.runtime.actor import Filter, RunContext


def _load_crmat(path: Path) -> Any:
    from gpsa.detector.transforms import load_crmat

    return load_crmat(path)


class PostPsa(Filter):
    """Gain drift, energy recalibration and crystal-to-lab transform of PSA results."""

    name = "post-psa"
    thread_safe = True
    input_readers = {"gain_drift": read_gain_table, "lab_transform": _load_crmat}
    gain_drift = Param(Path, None, "TimeEvoCC.conf: 'TS_start TS_end gain' lines", kind="input")
    recalibration = Param(list[float], [], "polynomial coefficients c0, c1, ... of E' (E)")
    lab_transform = Param(Path, None, "crmat table: positions to the lab frame", kind="input")

    def start(self, context: RunContext) -> None:
        super().start(context)
        self.gains = read_gain_table(self.gain_drift) if self.gain_drift else None
        self.lab: Any = None
        if self.lab_transform:
            from gpsa.detector.transforms import load_crmat

            self.lab = load_crmat(self.lab_transform)

    def process(self, block: PsaBlock) -> PsaBlock:
        ev, hits = block.events, block.hits
        g = (self.gains.gains_at(ev.timestamps) if self.gains is not None
             else np.ones(len(ev), np.float32))

        def fix(e: np.ndarray, gain: np.ndarray) -> np.ndarray:
            return recalibrate(e * gain, self.recalibration)

        events = dataclasses.replace(ev, e0=fix(ev.e0, g), e1=fix(ev.e1, g))
        cols: dict[str, np.ndarray] = {"energy": fix(hits.energy, g[hits.event_index])}
        if self.lab is not None and len(hits):
            xyz = np.stack([hits.x, hits.y, hits.z], axis=1)
            lab = self.lab.to_lab(hits.crystal.astype(np.int64), xyz).astype(np.float32)
            cols.update(x=lab[:, 0], y=lab[:, 1], z=lab[:, 2])
        return PsaBlock(events=events, hits=dataclasses.replace(hits, **cols))


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(PostPsa)
