"""Staged outputs: a file carries its final name only when the run that wrote it is complete.

Every built-in consumer writes ``NAME.partial`` (:func:`stage_output`); the host renames it to
``NAME`` when the crystal's run completed (:func:`commit_outputs`: the producer reached the end
of its input, nothing failed or was abandoned). After a failure, Ctrl-C, SIGTERM or a full disk
the ``.partial`` file stays: it is valid up to the last block written (ADF files then lack
their meta:eof frame), and ``gpsa-run.json`` lists it with the run's status. So a reader that
finds ``psa.adf`` or ``psa.root`` can trust it is whole, and one that finds ``*.partial`` knows
it is not. Starting a run removes the stale outputs of an earlier run of the same names, so an
old complete file never sits beside a new failed run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from gpsa.errors import OutputError
from gpsa.paths import PARTIAL_SUFFIX, partial_path

log = logging.getLogger(__name__)

__all__ = ["PARTIAL_SUFFIX", "commit_outputs", "partial_path", "stage_output"]


def stage_output(final: Path) -> Path:
    """Prepare to write ``final``: create its folder, remove stale outputs of that name (the
    final file and an old ``.partial``) and return the ``.partial`` path to write to."""
    partial = partial_path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        for stale in (final, partial):
            if stale.is_file() or stale.is_symlink():
                stale.unlink()
    except OSError as exc:
        raise OutputError(f"{final}: cannot prepare output: {exc.strerror or exc}") from None
    return partial


def commit_outputs(outputs: Iterable[tuple[Path, Path]], complete: bool) -> list[dict[str, str]]:
    """Rename each ``(partial, final)`` pair when ``complete``; otherwise leave the partial
    files. Returns one ``{"path", "state"}`` record per output for the provenance file, with
    state ``complete``, ``partial`` or ``missing`` (never written, e.g. a failed start)."""
    records = []
    for partial, final in outputs:
        if not partial.exists():
            records.append({"path": str(final), "state": "missing"})
        elif complete:
            try:
                os.replace(partial, final)
            except OSError as exc:
                raise OutputError(f"{final}: cannot rename from {partial.name}: "
                                  f"{exc.strerror or exc}") from None
            records.append({"path": str(final), "state": "complete"})
        else:
            log.warning("%s: run not complete; output kept as %s", final, partial.name)
            records.append({"path": str(partial), "state": "partial"})
    return records
