"""PSA benchmark: CPU backends (and the GPU one where CUDA is usable) against the exhaustive
numpy reference on the same events, a roofline of the same arithmetic, and the accuracy table.

Usage (from the repository root)::

    python bench/bench_psa.py                       # generated 2 mm basis -> bench/results/psa.json
    python bench/bench_psa.py --basis bases/cache/basis_A.h5 --device auto
    python bench/bench_psa.py --events 800 --reference-events 200 --no-accuracy   # quick

Same machinery as ``gpsa bench`` (gpsa/bench/report.py); this script only sets the defaults
of the saved run (accuracy table on, JSON in bench/results/psa.json).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench._machine from the repo

from gpsa.cli.main import main  # noqa: E402


def cli(argv: list[str]) -> int:
    args = list(argv)
    if "--no-accuracy" in args:
        args.remove("--no-accuracy")
    elif "--accuracy" not in args:
        args.append("--accuracy")
    if "--output" not in args:
        args += ["--output", str(Path(__file__).parent / "results" / "psa.json")]
    return main(["bench", *args])


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
