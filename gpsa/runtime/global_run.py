"""The global step of a run: the ``[[global]]`` chain over every crystal's data:psa output.

``gpsa run`` (simple and parallel mode) runs every crystal's local chain, **then** this step, in
its own process; batch mode runs it as the run's final step (:mod:`gpsa.runtime.batch_worker`)
over the published crystal outputs. :func:`run_global`:

* takes the data:psa file of every crystal whose chain **completed** (the file under its final
  name, see :mod:`gpsa.runtime.outputs`); a crystal that failed, was interrupted or not run, or
  whose file is missing, is left out and listed in ``missing`` (the step is then ``flushed``);
* reads the files block by block, always the one furthest behind in time (as
  :func:`gpsa.globallevel.sortinputs.sort_files` does: no input is ever idle), into the first
  stage; a ``time-sorter`` (or soft ``trigger``) there waits for every input from the start
  and has its idle timeouts off (they are for live streams: a file is never idle);
* runs the chain (:class:`gpsa.runtime.global_chain.GlobalChain`) with outputs in
  ``OUTPUT/global/``, committed under their final names when the chain ran to its end;
* writes ``OUTPUT/global/gpsa-global.json`` (atomically; status ``running`` first): status,
  ``flushed``, ``missing``, each input, every stage's counters and report, the AGATA-style
  counters (:mod:`gpsa.runtime.global_counters`) and the outputs.

A stop request before the step (Ctrl-C during the crystals) skips it (status ``not-run``).
"""

from __future__ import annotations

import datetime as _dt
import logging
import platform
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpsa import __version__
from gpsa.config.global_stages import GlobalConfig
from gpsa.errors import ConfigError, GpsaError
from gpsa.runtime.actor import Actor, Block, RunContext

log = logging.getLogger(__name__)

SUMMARY_NAME = "gpsa-global.json"
#: settings of a first stage turned off when it reads files (the sorter's idle timeouts)
FILE_OFF = ("idle_ticks", "idle_seconds")


@dataclass
class GlobalInput:
    """One crystal's place in the global step: its chain's status and whether it was read."""

    crystal: str
    path: Path
    status: str
    used: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"crystal": self.crystal, "path": str(self.path), "status": self.status,
                "used": self.used, "reason": self.reason}


@dataclass
class GlobalResult:
    """What the global step did (``status``: complete, interrupted, failed or not-run)."""

    status: str
    inputs: list[GlobalInput]
    summary_path: Path
    stages: list[Any] = field(default_factory=list)
    counters: dict[str, Any] = field(default_factory=dict)
    outputs: list[dict[str, str]] = field(default_factory=list)
    wall_seconds: float = 0.0
    error: str | None = None
    exit_code: int = 0

    @property
    def missing(self) -> list[str]:
        return [i.crystal for i in self.inputs if not i.used]

    @property
    def flushed(self) -> bool:
        return bool(self.missing)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "complete": self.status == "complete" and not self.flushed,
                "flushed": self.flushed, "missing": self.missing,
                "inputs": [i.to_dict() for i in self.inputs], "counters": self.counters,
                "stages": [s.to_dict() for s in self.stages], "outputs": self.outputs,
                "wall_seconds": round(self.wall_seconds, 6), "error": self.error}


def file_inputs(files: Mapping[str, Path], frames_per_block: int) -> Iterator[
        tuple[str, Block | None]]:
    """``(crystal, PsaBlock)`` from the data:psa files, always from the file furthest behind in
    time; ``(crystal, None)`` when a file ends."""
    from gpsa.actors.common import codec_registry
    from gpsa.globallevel.sortinputs import furthest_behind, psa_blocks

    readers = {name: psa_blocks(path, frames_per_block=frames_per_block,
                                registry=codec_registry()) for name, path in files.items()}
    return furthest_behind(readers, lambda _, block: int(block.events.timestamps[-1]))


def choose_inputs(cfg: GlobalConfig, crystals: Mapping[str, str]) -> list[GlobalInput]:
    """Each crystal of the chain with its status (``crystals``: crystal -> status) and whether
    its data:psa file is read."""
    out = []
    for name, path in cfg.inputs.items():
        status = crystals.get(name, "not-run")
        if status != "complete":
            out.append(GlobalInput(name, path, status, False, f"crystal {status}"))
        elif not path.is_file():
            out.append(GlobalInput(name, path, status, False, f"no file {path}"))
        else:
            out.append(GlobalInput(name, path, status, True))
    return out


def build_actors(cfg: GlobalConfig, names: list[str]) -> list[Actor]:
    """The configured actors. The first one, when it declares the time sorter's settings
    ``inputs``, ``idle_ticks``, ``idle_seconds`` (the time sorter, the soft trigger), is told
    the inputs (unless set) and has its idle timeouts off: the files are read in time order,
    none is ever idle (see the module docstring)."""
    from gpsa.plugins.catalogue import get_catalogue

    cat = get_catalogue()
    actors = []
    for i, st in enumerate(cfg.stages):
        cls = cat.actor(st.actor)
        settings = dict(st.settings)
        if i == 0:
            params = cls.params()
            if "inputs" in params and not settings.get("inputs"):
                settings["inputs"] = list(names)
            settings.update({k: 0 for k in FILE_OFF if k in params})
        actor = cls(**settings)
        actor.label = st.name
        actors.append(actor)
    return actors


def check_global(cfg: GlobalConfig) -> list[str]:
    """The global chain's checks before any data is read (outputs writable, each actor's own
    :meth:`~gpsa.runtime.actor.Actor.check`); returns warnings, raises ConfigError."""
    from gpsa.paths import check_writable

    warnings: list[str] = []
    context = RunContext(output_dir=cfg.output_dir, config_dir=cfg.config_dir,
                         device=cfg.device)
    for actor in build_actors(cfg, list(cfg.inputs)):
        where = f"global stage {actor.label!r}"
        try:
            for name, param in actor.params_for(actor.settings).items():
                value = actor.settings.get(name)
                if param.kind == "output" and value:
                    check_writable(context.output_path(Path(value)).parent)
            warnings += [f"{where}: {w}" for w in actor.check(context)]
        except GpsaError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return warnings


def _record(cfg: GlobalConfig, result: GlobalResult, status: str) -> dict[str, Any]:
    return {"gpsa_version": __version__, "written": _dt.datetime.now(_dt.timezone.utc)
            .isoformat(timespec="seconds"), "host": platform.node(), "argv": sys.argv,
            **result.to_dict(), "status": status, "config": cfg.to_dict()}


def run_global(cfg: GlobalConfig, crystals: Mapping[str, str], *,
               stop: threading.Event | None = None,
               frames_per_block: int | None = None) -> GlobalResult:
    """Run the global chain over the crystals that completed (``crystals``: crystal ->
    status); see the module docstring. Never raises for a failed stage: the result says so."""
    from gpsa.globallevel.sortinputs import FILE_FRAMES_PER_BLOCK
    from gpsa.runtime.global_chain import GlobalChain
    from gpsa.runtime.global_counters import agata_counters
    from gpsa.runtime.outputs import commit_outputs
    from gpsa.runtime.runner import write_json_atomic

    stop = stop or threading.Event()
    inputs = choose_inputs(cfg, crystals)
    cfg.output_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.output_dir / SUMMARY_NAME
    result = GlobalResult("running", inputs, path)
    if stop.is_set():
        result.status, result.error = "not-run", "the run was stopped before the global step"
        write_json_atomic(path, _record(cfg, result, result.status))
        return result
    write_json_atomic(path, _record(cfg, result, "running"))
    used = {i.crystal: i.path for i in inputs if i.used}
    if result.flushed:
        log.warning("global step without crystal(s) %s (flushed)", ", ".join(result.missing))
    t0 = time.perf_counter()
    context = RunContext(output_dir=cfg.output_dir, config_dir=cfg.config_dir,
                         device=cfg.device, stop_event=stop, extra={"crystals": list(used)})
    chain = GlobalChain(build_actors(cfg, list(used)), [st.actor for st in cfg.stages],
                        context)
    try:
        complete = chain.run(file_inputs(used, frames_per_block or FILE_FRAMES_PER_BLOCK))
        result.status = "complete" if complete else "interrupted"
    except GpsaError as exc:
        complete = False
        result.status, result.error, result.exit_code = "failed", str(exc), exc.exit_code
    except Exception as exc:  # noqa: BLE001 - reported in the summary, like a crystal's failure
        log.debug("global step failed", exc_info=exc)
        complete = False
        result.status, result.error, result.exit_code = (
            "failed", f"global step: {type(exc).__name__}: {exc}", 1)
    result.wall_seconds = time.perf_counter() - t0
    result.stages = chain.stats
    result.counters = agata_counters(chain.stats)
    result.outputs = commit_outputs(context.outputs, complete=complete)
    write_json_atomic(path, _record(cfg, result, result.status))
    log.info("global step: %s%s, %.2f s", result.status,
             f" (flushed without {', '.join(result.missing)})" if result.flushed else "",
             result.wall_seconds)
    return result


def run_final_global(spec: Mapping[str, Any], output: str, crystals: list[str],
                     statuses: Mapping[str, str], *,
                     stop: threading.Event | None = None) -> GlobalResult:
    """Batch mode's final step: resolve the run again from the shared run file (``spec``: the
    final payload's ``global`` entry, see :mod:`gpsa.runtime.batch`) and run its global chain
    over the published crystal outputs."""
    from gpsa.config.resolve import resolve_config

    cfg = resolve_config(spec["source"], crystals=crystals, output=output, psa=spec.get("psa"),
                         stop_timeout=spec.get("stop_timeout"))
    if cfg.global_chain is None:
        raise ConfigError(f"{spec['source']}: the run file has no [[global]] stages any more "
                          "(it changed since `gpsa batch init`)")
    return run_global(cfg.global_chain, statuses, stop=stop)


def final_step_global(payload: Mapping[str, Any], done: set[str], dead: set[str], *,
                      stop: threading.Event | None = None) -> dict[str, Any]:
    """Batch mode's final step: the global chain over the published outputs of the ``done``
    crystals (``dead``: dead-lettered); its record for ``run-complete.json`` (status,
    summary file, flushed, missing, counters, error, outputs)."""
    statuses = {c: "complete" if c in done else "failed" if c in dead else "not-run"
                for c in payload["crystals"]}
    try:
        res = run_final_global(payload["global"], payload["output"], payload["crystals"],
                               statuses, stop=stop)
    except GpsaError as exc:
        return {"status": "failed", "error": f"global chain: {exc}"}
    return {"status": res.status, "summary": str(res.summary_path), "flushed": res.flushed,
            "missing": res.missing, "counters": res.counters, "error": res.error,
            "outputs": res.outputs}
