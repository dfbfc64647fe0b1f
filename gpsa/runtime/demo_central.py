"""``gpsa demo --redis``: the demo through the Central Memory.

The demo's chain is cut by two streams of an embedded redis-server (in ``OUT/redis``):
``simulator → preprocess → redis-writer (pre)`` in this process, then
:data:`WORKERS` ``gpsa worker psa`` processes per crystal sharing stream ``pre``, then
``redis-reader (psa, ordered) → post-psa → adf-writer (→ root-writer) → summary`` in this
process. The outputs land where the in-process demo puts them (``OUT/out/<crystal>/``, with the
simulator's truth moved beside them) and equal them byte for byte.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from gpsa.config.resolve import RunConfig, resolve_config

log = logging.getLogger(__name__)

WORKERS = 2

def _stage_toml(actor: str, settings: dict[str, Any]) -> str:
    """A ``[[stage]]`` table with the given (checked) settings; None values are left out (the
    default)."""
    lines = ["[[stage]]", f"actor = {json.dumps(actor)}"]
    for key, value in settings.items():
        if value is None:
            continue
        value = str(value) if isinstance(value, Path) else value
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n\n"


def central_demo_files(run: RunConfig, out: Path) -> tuple[Path, Path, Path]:
    """The demo's chain cut around its ``psa`` stage: the run file of the stages before it
    (ending in stream ``pre``), of the stages after it (from stream ``psa``, in order), and the
    PSA basis. Every stage keeps the demo's own settings."""
    first = next(iter(run.crystals.values()))
    names = [s.name for s in first.stages]
    cut = names.index("psa")
    head = f"[run]\ncrystals = {json.dumps(list(run.crystals))}\n"
    before = "".join(_stage_toml(s.actor, s.settings) for s in first.stages[:cut])
    after = "".join(_stage_toml(s.actor, s.settings) for s in first.stages[cut + 1:])
    pre, post = out / "run-pre.toml", out / "run-post.toml"
    # the workers start after the first part: the stream holds every block
    pre.write_text(f'# gpsa demo --redis, first part\n{head}output = "out-pre"\n\n{before}'
                   + _stage_toml("redis-writer", {"stream": "pre", "max_pending": 100000}))
    post.write_text(f'# gpsa demo --redis, last part\n{head}output = "out"\n\n'
                    + _stage_toml("redis-reader", {"stream": "psa", "ordered": True}) + after)
    return pre, post, Path(first.stages[cut].settings["basis"])


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
