"""``gpsa report RUN``: PNG plots and one self-contained HTML page about a finished run.

::

    from gpsa.report import write_report
    report = write_report(Path("out"))       # out/report/report.html and the PNGs
    report.summary["median 3D centroid error (mm)"]

Modules: :mod:`~gpsa.report.data` (reading the run folder), :mod:`~gpsa.report.numbers` (the
numbers), one module per plot family (:mod:`~gpsa.report.hits`: positions, spectra,
multiplicity; :mod:`~gpsa.report.traces`; :mod:`~gpsa.report.truth`;
:mod:`~gpsa.report.throughput`: per stage, over time, alarms), :mod:`~gpsa.report.figures`
(matplotlib helpers), :mod:`~gpsa.report.page` (the HTML) and :mod:`~gpsa.report.build`. Needs
matplotlib (the ``plot`` extra). See ``docs/report.md``.
"""

from __future__ import annotations

from gpsa.report.build import Report, write_report

__all__ = ["Report", "write_report"]
