"""Event simulator: crystal events made from a signal basis, with their truth.

::

    from gpsa.basis.io import load_basis
    from gpsa.basis.grid import BasisGrid
    from gpsa.simulate import SimConfig, simulate_crystal, simulate_events

    grid = BasisGrid.from_basis(load_basis("bases/basis_00A.h5"))
    for batch in simulate_crystal(grid, 10_000, crystal_id=0, config=SimConfig(noise_kev=3)):
        batch.block, batch.truth          # CrystalBlock (int16 traces), Truth tables

Modules: :mod:`.config` (settings, ADC conventions), :mod:`.interactions` (truth points and
energies), :mod:`.traces` (signals → ADC), :mod:`.events` (the batch loop), :mod:`.truth`
(truth tables and ``truth.h5``), :mod:`.writer` (a run folder with ADF files and a manifest).
"""

from gpsa.simulate.config import SimConfig
from gpsa.simulate.events import SimBatch, render, simulate_crystal, simulate_events
from gpsa.simulate.truth import Truth, TruthWriter, read_truth
from gpsa.simulate.writer import CrystalSpec, write_simulation

__all__ = ["CrystalSpec", "SimBatch", "SimConfig", "Truth", "TruthWriter", "read_truth",
           "render", "simulate_crystal", "simulate_events", "write_simulation"]
