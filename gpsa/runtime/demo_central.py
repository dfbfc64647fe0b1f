"""``gpsa demo --redis``: the demo through the Central Memory.

The demo's chain is cut by two streams of an embedded redis-server (in ``OUT/redis``):
``simulator → preprocess → redis-writer (pre)`` in this process, then
:data:`WORKERS` ``gpsa worker psa`` processes per crystal sharing stream ``pre``, then
``redis-reader (psa, ordered) → post-psa → adf-writer (→ root-writer) → summary`` in this
process. The outputs land where the in-process demo puts them (``OUT/out/<crystal>/``, with the
simulator's truth moved beside them) and equal them byte for byte.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from gpsa.config.resolve import RunConfig, resolve_config

log = logging.getLogger(__name__)

WORKERS = 2

PRE = """\
# gpsa demo --redis, first part: simulated crystals -> preprocessing -> stream "pre"
[run]
crystals = {crystals}
output = "out-pre"

[[stage]]
actor = "simulator"
basis = "{truth_basis}"
events = {events}
block_size = 250
noise_kev = 2.0

[[stage]]
actor = "preprocess"
align_t0 = 20

[[stage]]
actor = "redis-writer"
stream = "pre"
max_pending = 100000   # the workers start after this part: hold every block
"""

POST = """\
# gpsa demo --redis, last part: stream "psa" (in order) -> post-PSA -> outputs
[run]
crystals = {crystals}
output = "out"

[[stage]]
actor = "redis-reader"
stream = "psa"
ordered = true

[[stage]]
actor = "post-psa"

[[stage]]
actor = "adf-writer"
path = "psa.adf"
{root}
[[stage]]
actor = "summary"
"""


def central_demo_files(run: RunConfig, out: Path) -> tuple[Path, Path, Path]:
    """The two run files and the PSA basis of the demo's run configuration ``run``."""
    first = next(iter(run.crystals.values()))
    st = {s.name: s for s in first.stages}
    crystals = list(run.crystals)
    root = ('\n[[stage]]\nactor = "root-writer"\npath = "psa.root"\n'
            if "root-writer" in st else "")
    pre, post = out / "run-pre.toml", out / "run-post.toml"
    pre.write_text(PRE.format(crystals=crystals, truth_basis=st["simulator"].settings["basis"],
                              events=st["simulator"].settings["events"]))
    post.write_text(POST.format(crystals=crystals, root=root))
    return pre, post, Path(st["psa"].settings["basis"])


def run_central_demo(conf: Path, out: Path, *, quiet: bool = False) -> tuple[int, RunConfig]:
    """Run the demo of ``conf`` through an embedded Redis (module docstring); returns the exit
    code and the last part's configuration (its crystals' output folders hold the results)."""
    from gpsa.central.server import LocalRedis
    from gpsa.cli.run import execute

    pre, post, basis = central_demo_files(resolve_config(conf), out)
    shutil.rmtree(out / "redis", ignore_errors=True)  # a fresh server: no earlier run's streams
    with LocalRedis(out / "redis") as server:
        cfg_pre, cfg_post = resolve_config(pre), resolve_config(post)
        for cfg in (cfg_pre, cfg_post):
            for c in cfg.crystals.values():
                c.redis = server.url
        code = execute(cfg_pre, quiet=quiet)
        for crystal in cfg_pre.crystals:
            if code:
                break
            code = _workers(crystal, basis, server.url, out)
        if not code:
            code = execute(cfg_post, quiet=quiet)
    for crystal, c in cfg_post.crystals.items():
        truth = cfg_pre.crystals[crystal].output_dir / "truth.h5"
        if truth.exists():
            os.replace(truth, c.output_dir / "truth.h5")
    return code, cfg_post


def _workers(crystal: str, basis: Path, url: str, out: Path) -> int:
    """:data:`WORKERS` PSA worker processes on one crystal's stream; the first non-zero exit."""
    procs = [subprocess.Popen([sys.executable, "-m", "gpsa.cli.main", "worker", "psa",
                               "--crystal", crystal, "--basis", str(basis), "--redis", url,
                               "--dir", str(out / "workers" / f"{crystal}-{i}"), "-q"],
                              stdout=subprocess.DEVNULL)
             for i in range(WORKERS)]
    codes = [p.wait() for p in procs]
    log.info("crystal %s: %d PSA workers exited %s", crystal, WORKERS, codes)
    return next((c for c in codes if c), 0)
