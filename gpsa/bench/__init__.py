"""The PSA benchmark behind ``gpsa bench`` and ``bench/bench_psa.py``, kept apart from the
algorithm package (:mod:`gpsa.psa` is the search, its backends and its refinement).

:mod:`gpsa.bench.benchmark` (speed of every backend, agreement with the reference, roofline),
:mod:`gpsa.bench.sources` (bases and events: generator, toy model or a basis file),
:mod:`gpsa.bench.accuracy` (position errors against the truth), :mod:`gpsa.bench.algorithms`
(the registered PSA algorithms of the plugin host beside the grid search),
:mod:`gpsa.bench.report` (the whole run, one JSON-ready dict) and :mod:`gpsa.bench.toy` (the
analytic toy crystal, its basis and simulated events with their truth, for tests and
benchmarks).
"""
