"""Running one crystal's chain from a checked configuration, with provenance.

:func:`run_crystal` builds the actors, writes ``gpsa-run.json`` next to the outputs (the resolved
configuration, gpsa version, plugins, host; status ``running``), runs the chain, commits the
staged outputs of a complete run (:mod:`gpsa.runtime.outputs`), then rewrites the file with the
counters, the outputs and their states, and the final status (``complete``, ``interrupted``,
``failed`` or ``aborted``).
The ``gpsa_run_start`` / ``gpsa_run_finish`` hooks are called around the chain.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpsa import __version__
from gpsa.config.resolve import CrystalConfig
from gpsa.runtime.actor import Consumer, Filter, Producer, RunContext
from gpsa.runtime.chain import Chain
from gpsa.runtime.outputs import commit_outputs
from gpsa.runtime.signals import grace_seconds
from gpsa.runtime.stats import ChainResult

log = logging.getLogger(__name__)

PROVENANCE_NAME = "gpsa-run.json"


def provenance(cfg: CrystalConfig, *, status: str, result: ChainResult | None = None,
               error: str | None = None,
               outputs: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The provenance record of a crystal run (JSON-ready). ``status`` is ``running``,
    ``complete``, ``interrupted``, ``failed`` or ``aborted``; ``outputs`` lists each output file
    with its state (``complete``, ``partial`` or ``missing``)."""
    from gpsa.plugins.manager import get_plugin_manager, plugin_info

    return {
        "gpsa_version": __version__,
        "status": status,
        "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": sys.version.split()[0],
        "argv": sys.argv,
        "config": cfg.to_dict(),
        "plugins": [{k: p[k] for k in ("name", "distribution", "version")}
                    for p in plugin_info(get_plugin_manager())],
        "result": result.to_dict() if result is not None else None,
        "outputs": outputs or [],
        "error": error,
    }


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` through a temporary file and rename (never half-written)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def mark_not_finished(cfg: CrystalConfig, status: str, why: str) -> None:
    """For a crystal whose process was killed: rewrite its provenance file, if it still says
    ``running``, with ``status`` and ``why`` and its outputs as partial."""
    from gpsa.runtime.outputs import PARTIAL_SUFFIX

    prov_path = cfg.output_dir / PROVENANCE_NAME
    try:
        record = json.loads(prov_path.read_text())
    except (OSError, ValueError):
        return
    if record.get("status") != "running":
        return
    outputs = [{"path": str(p), "state": "partial"}
               for p in sorted(cfg.output_dir.glob(f"*{PARTIAL_SUFFIX}"))]
    record.update(status=status, error=why, outputs=outputs)
    write_json_atomic(prov_path, record)


def run_crystal(cfg: CrystalConfig, *, stop_event: threading.Event | None = None,
                on_progress: Callable[[int, int | None], None] | None = None,
                observer: Any = None) -> ChainResult:
    """Run the chain of one crystal. ``stop_event`` (set on Ctrl-C) ends reading gracefully;
    ``on_progress(events, expected_total)`` is called after each block reaches the first
    consumer (``expected_total`` from the started producer, None if unknown); ``observer``
    (:class:`gpsa.monitor.observe.Observer`, when the run is monitored) is fed for every
    stage."""
    from gpsa.plugins.manager import get_plugin_manager

    hook = get_plugin_manager().hook
    actors = cfg.build()
    producer, *middle = actors
    n_cons = sum(isinstance(a, Consumer) for a in actors)
    filters, consumers = middle[:len(middle) - n_cons], middle[len(middle) - n_cons:]
    assert isinstance(producer, Producer) and all(isinstance(f, Filter) for f in filters)
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    prov_path = cfg.output_dir / PROVENANCE_NAME
    write_json_atomic(prov_path, provenance(cfg, status="running"))
    context = RunContext(crystal=cfg.crystal, output_dir=cfg.output_dir,
                         config_dir=cfg.config_dir, device=cfg.device,
                         stop_event=stop_event or threading.Event(),
                         extra={"redis_url": cfg.redis} if cfg.redis else {},
                         observer=observer)
    progress = None
    if on_progress is not None:
        def progress(n: int) -> None:
            on_progress(n, producer.expected_events())

    chain = Chain(producer, filters, consumers, workers=cfg.workers, queue_size=cfg.queue_size,
                  context=context, on_progress=progress, grace=grace_seconds(cfg.stop_timeout))
    hook.gpsa_run_start(crystal=cfg.crystal, config=cfg.to_dict())
    try:
        result = chain.run()
    except BaseException as exc:
        status = "failed" if isinstance(exc, Exception) else "aborted"
        partial = getattr(exc, "result", None)
        outputs = commit_outputs(context.outputs, complete=False)
        write_json_atomic(prov_path, provenance(cfg, status=status, result=partial,
                                                error=str(exc) or type(exc).__name__,
                                                outputs=outputs))
        hook.gpsa_run_finish(crystal=cfg.crystal, result=None, error=exc)
        raise
    status = "complete" if result.complete else "interrupted"
    outputs = commit_outputs(context.outputs, complete=result.complete)
    write_json_atomic(prov_path, provenance(cfg, status=status, result=result, outputs=outputs))
    hook.gpsa_run_finish(crystal=cfg.crystal, result=result, error=None)
    log.info("crystal %s: %s, %d events in %.2f s", cfg.crystal, status, result.events_out,
             result.wall_seconds)
    return result
