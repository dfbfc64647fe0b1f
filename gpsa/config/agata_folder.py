"""``gpsa config init``: write an AGATA-style run folder that ``gpsa run`` reads.

AGATA replays keep a run as ``run_XXXX/Conf/<crystal>/...`` (written by AGATA's ``gen_conf.py``)
and ``run_XXXX/Out/...``. :func:`init_run_folder` writes the gpsa equivalent::

    RUN/Conf/run.toml              [run] settings and the chain adf-reader -> preprocess -> psa
                                   -> post-psa -> adf-writer, every key commented, the other
                                   settings of each actor listed as comments with their defaults
    RUN/Conf/<crystal>/crystal.toml     per-crystal overrides ([preprocess], [post-psa] tables)
    RUN/Conf/<crystal>/TimeEvoCC.conf   AGATA gain-drift table, neutral (one bin, gain 1)
    RUN/Conf/<crystal>/calibration.txt  gpsa energy coefficients, neutral (offset 0, gain 1)
    RUN/Conf/<crystal>/crosstalk.txt    gpsa 37 x 37 cross-talk matrix, the identity
    RUN/Out/                       output root (RUN/Out/<crystal>/psa.adf, provenance)

The input defaults to ``RUN/Data/<crystal>/events.adf``, where ``gpsa simulate --out RUN/Data``
writes, so ``gpsa config init RUN ...``, ``gpsa simulate ... --out RUN/Data`` and ``gpsa run RUN``
make a replay. The text of each file (:mod:`gpsa.config.agata_render`) is rendered before the
disk is touched and written into a hidden staging folder that is renamed into place: an error
leaves no half-written folder. A non-empty ``RUN`` is refused unless ``force``; then ``RUN/Conf``
is replaced and the rest (``Data/``, ``Out/``) kept.
Errors: :class:`ConfigError` (exit 2) for a bad argument or target, :class:`GpsaError` (exit 1)
when the disk refuses.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path

from gpsa.config.agata_render import OUT_FOLDER, render_crystal, render_run
from gpsa.config.files import CONF_FOLDER
from gpsa.device import device_problem
from gpsa.errors import ConfigError, GpsaError


def init_run_folder(folder: Path | str, crystals: Iterable[str], *, basis: str,
                    input_pattern: str | None = None, device: str = "cpu", workers: int = 1,
                    force: bool = False) -> Path:
    """Write the run folder (module docstring); returns its ``Conf/`` folder. ``basis`` and
    ``input_pattern`` may hold ``{crystal}``; relative ones are taken from the current folder
    and written relative to ``Conf/`` when inside the run folder, else absolute."""
    folder = Path(folder)
    names = crystal_names(crystals)
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if device_problem(device):
        raise ConfigError(f"--device {device!r}: expected cpu, cuda, cuda:N or auto")
    files = {f"{CONF_FOLDER}/run.toml": render_run(
        folder, names, basis=basis, input_pattern=input_pattern, device=device, workers=workers)}
    for name in names:
        files |= {f"{CONF_FOLDER}/{name}/{f}": text for f, text in render_crystal(name).items()}
    _check_target(folder, force)
    write_atomically(folder, files)
    return folder / CONF_FOLDER


def crystal_names(crystals: Iterable[str]) -> list[str]:
    """Crystal names (``00A``) of names or ids; ConfigError for a bad or repeated one."""
    from gpsa.detector import crystal_name, parse_crystal

    names: list[str] = []
    for c in crystals:
        if not c.strip():
            continue
        try:
            name = crystal_name(parse_crystal(c))
        except (ConfigError, ValueError, KeyError):
            raise ConfigError(f"--crystals: {c!r} is not a crystal name (NNL, e.g. 00A) or "
                              "id") from None
        if name in names:
            raise ConfigError(f"--crystals: {name} given twice")
        names.append(name)
    if not names:
        raise ConfigError("--crystals: no crystal given")
    return names



def _check_target(folder: Path, force: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: exists and is not a folder")
    if folder.is_dir():
        entries = sorted(p.name for p in folder.iterdir())
        if entries and not force:
            shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
            raise ConfigError(f"{folder}: folder not empty ({shown}); --force replaces "
                              f"{folder / CONF_FOLDER} and keeps the rest")
        for sub in (OUT_FOLDER,):
            if (folder / sub).exists() and not (folder / sub).is_dir():
                raise ConfigError(f"{folder / sub}: exists and is not a folder")
    anc = folder
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise ConfigError(f"{folder}: cannot be created: {anc} is not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise GpsaError(f"{folder}: cannot write the run folder: {anc} is not writable")


def write_atomically(folder: Path, files: dict[str, str]) -> None:
    """Write ``files`` (path relative to ``folder`` → text) under ``folder``: into a staging
    folder renamed into place, so an error leaves nothing half-written. A new ``folder`` is
    made whole; in an existing one, ``Conf/`` is replaced and ``Out/`` made if missing."""
    created: list[Path] = []
    try:
        if not folder.exists():
            missing = [p for p in (folder.parent, *folder.parent.parents) if not p.exists()]
            created = missing[-1:]  # the topmost folder made here
            folder.parent.mkdir(parents=True, exist_ok=True)
            stage = _staging(folder.parent, f".{folder.name}")
            try:
                _write_tree(stage, files)
                (stage / OUT_FOLDER).mkdir()
                os.rename(stage, folder)
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                raise
        else:
            _replace_conf(folder, files)
    except OSError as exc:
        for p in created:
            shutil.rmtree(p, ignore_errors=True)
        raise GpsaError(f"{folder}: cannot write the run folder: "
                        f"{exc.strerror or exc}") from None


def _staging(parent: Path, prefix: str) -> Path:
    """A new hidden folder in ``parent`` (made with the umask's permissions, unlike mkdtemp)."""
    while True:
        path = parent / f"{prefix}.{os.getpid()}.{secrets.token_hex(4)}.init"
        try:
            path.mkdir()
            return path
        except FileExistsError:  # pragma: no cover - a 32-bit random clash
            continue


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _replace_conf(folder: Path, files: dict[str, str]) -> None:
    stage = _staging(folder, f".{CONF_FOLDER}")
    conf, out, old = folder / CONF_FOLDER, folder / OUT_FOLDER, None
    made_out = False
    try:
        _write_tree(stage, files)
        if not out.exists():
            out.mkdir()
            made_out = True
        if conf.exists() or conf.is_symlink():
            old = stage / ".old"
            os.rename(conf, old)
        os.rename(stage / CONF_FOLDER, conf)
    except BaseException:
        if old is not None and not conf.exists():
            os.rename(old, conf)
            old = None
        if made_out:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)  # the old Conf/ with it
