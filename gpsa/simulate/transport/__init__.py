"""Gamma-ray transport through the germanium of the array: source → interaction points (truth)
→ traces (via the event simulator).

::

    from gpsa.simulate.transport import ArrayGeometry, parse_source, transport_source
    geom = ArrayGeometry.from_tables("path/to/a180", crystals="0-5")   # or ArrayGeometry.shell()
    result = transport_source(geom, parse_source("co60"), 100_000, seed=1)
    result.write("co60.h5")                    # layout: docs/transport.md, :mod:`.table`

Modules: :mod:`.xsection` (the shipped NIST XCOM table for Ge), :mod:`.physics` (processes,
constants, Klein–Nishina), :mod:`.sources`, :mod:`.geometry` (A180 tables or a synthetic
shell), :mod:`.engine` (the public entry points), :mod:`.table` (output and its HDF5 file),
:mod:`.summary` (efficiency, P/T per line), :mod:`.bridge` (points → traces); kernels in
:mod:`._physics`, :mod:`._intersect`, :mod:`._kernels`; :mod:`.make_table` regenerates the table.
"""

from .engine import GammaHistories, TransportConfig, transport_gammas, transport_source
from .geometry import ArrayGeometry, parse_crystals
from .sources import Source, parse_source
from .summary import line_summary
from .table import TransportResult, read_transport
from .xsection import CrossSections, load_cross_sections

__all__ = ["ArrayGeometry", "CrossSections", "GammaHistories", "Source", "TransportConfig",
           "TransportResult", "line_summary", "load_cross_sections", "parse_crystals",
           "parse_source", "read_transport", "transport_gammas", "transport_source"]
