"""Built-in plugin: the ``simulator`` producer — simulated crystal events from a basis, fed to
the chain at a target rate (acquisition speed) or as fast as possible, with their truth.

Run file example::

    [[stage]]
    actor = "simulator"
    basis = "bases/toy.h5"
    events = 20000
    rate_hz = 5000          # 0: as fast as possible
    truth = "truth.h5"      # in the crystal's output folder ("" for none)

The crystal id comes from the crystal name (``00A`` → 0, ``14C`` → 44) unless ``crystal_id`` is
set. Blocks are int16 ADC traces as the electronics would give them (see
:mod:`gpsa.simulate.config` for the ADC conventions): the preprocessing filter comes next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from gpsa.actors.common import load_basis
from gpsa.actors.pacing import Pacer
from gpsa.config.params import Param
from gpsa.plugins.hookspecs import hookimpl
from gpsa.runtime.actor import Block, Producer, RunContext


class Simulator(Producer):
    """Simulated crystal events (int16 traces) at a target rate, with a truth file."""

    name = "simulator"
    basis = Param(Path, help="signal basis the events are made from", kind="input")
    events = Param(int, 10_000, "events to simulate", min=0)
    block_size = Param(int, 1000, "events per block", min=1)
    rate_hz = Param(float, 0.0, "events per wall-clock second (0: as fast as possible)", min=0.0)
    seed = Param(int, 0, "random seed (combined with the crystal id)")
    crystal_id = Param(int, -1, "crystal id (-1: from the crystal name)", min=-1)
    noise_kev = Param(float, 2.0, "white noise per sample, rms keV", min=0.0)
    crosstalk = Param(float, 0.0, "proportional cross-talk between segments")
    multiplicity = Param(list[float], [0.5, 0.3, 0.2], "P(1), P(2), ... interactions per event")
    truth = Param(str, "truth.h5", "truth file in the output folder ('' for none)")

    def start(self, context: RunContext) -> None:
        super().start(context)
        from gpsa.basis.grid import BasisGrid
        from gpsa.simulate import SimConfig

        self.config = SimConfig(block_size=self.block_size, noise_kev=self.noise_kev,
                                crosstalk=self.crosstalk, multiplicity=tuple(self.multiplicity))
        self.grid = BasisGrid.from_basis(load_basis(self.basis))
        cid = self.crystal_id
        if cid < 0:
            from gpsa.detector.naming import crystal_id

            cid = crystal_id(context.crystal) if context.crystal else 0
        self.cid = cid
        self.truth_writer: Any = None
        if self.truth:
            from gpsa.simulate import TruthWriter

            self.truth_writer = TruthWriter(context.output_file(self.truth),
                                            segment_order=self.grid.basis.segment_order,
                                            attrs={"seed": self.seed})

    def expected_events(self) -> int:
        return self.events

    def produce(self) -> Iterator[Block]:
        from gpsa.simulate import simulate_crystal

        pacer = Pacer(self.rate_hz, self.context.stop_event)
        for batch in simulate_crystal(self.grid, self.events, crystal_id=self.cid,
                                      config=self.config, seed=self.seed):
            pacer.wait(len(batch.block))
            if self.truth_writer is not None:
                self.truth_writer.append(batch.truth)
            yield batch.block

    def stop(self) -> None:
        if getattr(self, "truth_writer", None) is not None:
            self.truth_writer.close()


@hookimpl
def gpsa_register_actors(register: Callable[[type], None]) -> None:
    register(Simulator)
