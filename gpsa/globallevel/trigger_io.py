"""Where the soft trigger's decisions meet the slow path: files, the Central Memory, or memory.

A decision for crystal ``C`` is ``(accepted, through)``: the accepted event numbers (uint32) and
the highest event number decided; every event of ``C`` numbered ``<= through`` and not accepted
is rejected (:mod:`gpsa.globallevel.trigger`). Three transports, each a *sink* (the trigger's
side: ``publish`` then ``close``) and a *source* (the gate's side: ``poll``):

* **files** (a local run, decisions known before the slow path starts): ``FOLDER/C.npz`` per
  crystal with ``accepted`` (uint32, increasing), ``through`` (int64, -1: nothing decided),
  ``decided`` (int64, records decided), ``complete`` (bool) and ``settings`` (JSON text of the
  trigger settings, which the gate compares with its own). Written at the end, atomically.
* **Central Memory**: the stream ``gpsa:{RUN:C}:decisions`` (hash-tagged like every key of the
  crystal), one entry per crystal and trigger push with fields ``accepted`` (the numbers as
  little-endian uint32 bytes), ``through`` and ``decided`` (decimal text); then the key
  ``gpsa:{RUN:C}:decisions:end``, a JSON object ``{"through", "accepted", "decided",
  "complete", "settings"}``. The gate reads with plain XREAD (no group: every reader sees every
  decision); it takes the end marker before reading, so that no entry written before the marker
  is missed. A run name is used by one trigger at a time.
* **memory** (trigger and gate in one process): a :class:`DecisionBoard` per (run, crystal).
"""

from __future__ import annotations

import json
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gpsa.errors import GpsaError

#: the Central Memory stream name of the decisions (``gpsa:{RUN:CRYSTAL}:decisions``)
DECISIONS_STREAM = "decisions"


class DecisionError(GpsaError):
    """Decisions cannot be read (missing or foreign file, trigger settings differ)."""

    exit_code = 2


@dataclass
class Update:
    """What a poll brought: accepted numbers, the new ``through`` (None: unchanged) and whether
    the trigger has ended (no decision will come any more)."""

    accepted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    through: int | None = None
    ended: bool = False


class DecisionSink(Protocol):
    def publish(self, crystal: str, accepted: np.ndarray, through: int, decided: int) -> None: ...
    def close(self, complete: bool) -> None: ...


class DecisionSource(Protocol):
    def poll(self, timeout: float) -> Update: ...


# --- files ---------------------------------------------------------------------------------
class FileSink:
    """Decisions kept in memory (4 bytes per accepted crystal event) and written per crystal
    at :meth:`close`: ``folder/C.npz`` for every crystal named (see the module docstring)."""

    def __init__(self, folder: Path, crystals: list[str], settings: dict[str, Any]) -> None:
        self.folder, self.settings = Path(folder), settings
        self._acc: dict[str, list[np.ndarray]] = {c: [] for c in crystals}
        self._through = dict.fromkeys(crystals, -1)
        self._decided = dict.fromkeys(crystals, 0)

    def publish(self, crystal: str, accepted: np.ndarray, through: int, decided: int) -> None:
        self._acc.setdefault(crystal, []).append(np.asarray(accepted, np.uint32))
        self._through[crystal] = max(self._through.get(crystal, -1), through)
        self._decided[crystal] = self._decided.get(crystal, 0) + decided

    def close(self, complete: bool) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for crystal, parts in self._acc.items():
            acc = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.uint32)
            path = self.folder / f"{crystal}.npz"
            tmp = path.with_name(f".{crystal}.tmp.npz")
            np.savez(tmp, accepted=acc.astype(np.uint32),
                     through=np.int64(self._through[crystal]),
                     decided=np.int64(self._decided[crystal]), complete=np.bool_(complete),
                     settings=np.str_(json.dumps(self.settings, sort_keys=True)))
            os.replace(tmp, path)


class FileSource:
    """The decisions of one crystal from its file: everything at the first poll."""

    def __init__(self, path: Path, settings: dict[str, Any] | None = None) -> None:
        if not Path(path).exists():
            raise DecisionError(f"{path}: no trigger decisions (run `gpsa trigger RUNFILE` "
                                "first, or set the gate's 'decisions')")
        with np.load(path, allow_pickle=False) as f:
            self.accepted = f["accepted"].astype(np.uint32)
            self.through, self.complete = int(f["through"]), bool(f["complete"])
            stored = json.loads(str(f["settings"]))
        if settings is not None and stored != settings:
            diff = sorted(k for k in set(stored) | set(settings)
                          if stored.get(k) != settings.get(k))
            raise DecisionError(f"{path}: made with other trigger settings ({', '.join(diff)}: "
                                f"{ {k: stored.get(k) for k in diff} }); run `gpsa trigger` "
                                "again")
        self._sent = False

    def poll(self, timeout: float) -> Update:
        if self._sent:
            return Update(ended=True)
        self._sent = True
        return Update(self.accepted, self.through, ended=True)


# --- the Central Memory ----------------------------------------------------------------------
def decisions_key(run: str, crystal: str) -> str:
    from gpsa.central.streams import stream_key

    return stream_key(run, crystal, DECISIONS_STREAM)


class RedisSink:
    """XADD one entry per crystal and push, the end markers at :meth:`close`."""

    def __init__(self, client: Any, run: str, crystals: list[str],
                 settings: dict[str, Any]) -> None:
        self.client, self.run, self.settings = client, run, settings
        self._totals = {c: [-1, 0, 0] for c in crystals}  # through, accepted, decided
        for c in crystals:  # a finished earlier run's decisions go
            key = decisions_key(run, c)
            self.client.delete(key, key + ":end")

    def publish(self, crystal: str, accepted: np.ndarray, through: int, decided: int) -> None:
        t = self._totals.setdefault(crystal, [-1, 0, 0])
        t[0], t[1], t[2] = max(t[0], through), t[1] + len(accepted), t[2] + decided
        self.client.xadd(decisions_key(self.run, crystal), {
            "accepted": np.asarray(accepted, "<u4").tobytes(), "through": through,
            "decided": decided})

    def close(self, complete: bool) -> None:
        pipe = self.client.pipeline()
        for c, (through, acc, decided) in self._totals.items():
            pipe.set(decisions_key(self.run, c) + ":end", json.dumps({
                "through": through, "accepted": acc, "decided": decided,
                "complete": complete, "settings": self.settings}))
        pipe.execute()


class RedisSource:
    """XREAD of one crystal's decisions stream (see the module docstring)."""

    def __init__(self, client: Any, run: str, crystal: str) -> None:
        self.client, self.key = client, decisions_key(run, crystal)
        self._last = "0-0"

    def poll(self, timeout: float) -> Update:
        ended = self.client.exists(self.key + ":end") > 0
        block = None if ended or timeout <= 0 else max(1, int(timeout * 1000))
        resp = self.client.xread({self.key: self._last}, count=1000, block=block)
        items = [f for _, entries in resp or [] for _, f in entries]
        if resp:
            self._last = resp[0][1][-1][0]
        if not items:
            return Update(ended=ended)
        acc = np.concatenate([np.frombuffer(f[b"accepted"], "<u4") for f in items])
        return Update(acc.astype(np.uint32), max(int(f[b"through"]) for f in items),
                      ended=False)


# --- memory ----------------------------------------------------------------------------------
class DecisionBoard:
    """In-process decisions of one crystal: the trigger publishes, the gate polls."""

    def __init__(self) -> None:
        self._q: queue.Queue[tuple[np.ndarray, int] | None] = queue.Queue()

    def publish(self, accepted: np.ndarray, through: int) -> None:
        self._q.put((np.asarray(accepted, np.uint32), through))

    def end(self) -> None:
        self._q.put(None)

    def poll(self, timeout: float) -> Update:
        parts, through, ended = [], None, False
        try:
            item = self._q.get(timeout=timeout) if timeout > 0 else self._q.get_nowait()
            while True:
                if item is None:
                    ended = True
                    self._q.put(None)  # ended for good
                    break
                parts.append(item[0])
                through = item[1] if through is None else max(through, item[1])
                item = self._q.get_nowait()
        except queue.Empty:
            pass
        acc = np.concatenate(parts) if parts else np.zeros(0, np.uint32)
        return Update(acc, through, ended=ended)


_boards: dict[tuple[str, str], DecisionBoard] = {}
_boards_lock = threading.Lock()


def board(run: str, crystal: str) -> DecisionBoard:
    """The process-wide board of (run, crystal), made on first use."""
    with _boards_lock:
        return _boards.setdefault((run, crystal), DecisionBoard())


def drop_boards(run: str) -> None:
    """Forget the boards of ``run`` (a new run of the same name starts clean)."""
    with _boards_lock:
        for key in [k for k in _boards if k[0] == run]:
            del _boards[key]


class MemorySink:
    """Publish to the boards of ``run``."""

    def __init__(self, run: str, crystals: list[str]) -> None:
        self.run = run
        self._crystals: set[str] = set(crystals)

    def publish(self, crystal: str, accepted: np.ndarray, through: int, decided: int) -> None:
        self._crystals.add(crystal)
        board(self.run, crystal).publish(accepted, through)

    def close(self, complete: bool) -> None:
        with _boards_lock:
            names = {c for r, c in _boards if r == self.run} | self._crystals
        for c in names:
            board(self.run, c).end()
