"""A work queue on a Redis stream: workloads handed out one at a time, leased, reclaimed, fenced.

A run's workloads are entries of the stream ``gpsa:{RUN}:work`` (fields ``workload``, ``kind``,
``payload``), read by one consumer group (:data:`~gpsa.central.workscripts.GROUP`). Each state
change is one Lua script (:mod:`gpsa.central.workscripts`), so it is atomic:

* **claim** (:meth:`WorkQueue.claim`): first an entry already pending for the caller (a claim
  whose reply a dropped connection lost), then one idle past the lease (its holder died or
  stalled: the XAUTOCLAIM rule, done as ``XPENDING IDLE`` + ``XCLAIM`` so that the previous owner
  and the delivery count are known in the same step), else a new one (``XREADGROUP >``). An entry
  idle past the lease that had ``max_deliveries`` = ``max_reassign + 1`` deliveries goes to the
  dead-letter stream ``gpsa:{RUN}:dead`` instead (reason ``lease expired``) and is XACKed.
* **lease**: the group's pending list is the lease. The holder's heartbeat
  (:meth:`WorkQueue.heartbeat`, every lease/5 from a thread: :mod:`gpsa.central.lease`) resets
  the entry's idle time with ``XCLAIM … JUSTID`` (no delivery counted) after checking that it
  still owns the entry, so a zombie's heartbeat never takes back a reclaimed workload.
* **commit** (:meth:`WorkQueue.commit`): the fence. The result goes to the hash
  ``gpsa:{RUN}:done`` and the entry is XACKed only if the caller still owns it; a late commit by a
  worker that lost its lease is refused (and logged as ``refused``).
* **fail** / **release**: a failed attempt keeps its error and gives the entry back with its
  delivery counted (dead-lettered, reason ``failed``, at ``max_deliveries``); a release (SIGTERM)
  gives it back without counting: ``XCLAIM`` to the pseudo-consumer ``released`` with an idle
  time far past the lease, so the next claim by any worker takes it at once.
* when every workload is done or dead-lettered, the run's **final** workload (payload given at
  :meth:`WorkQueue.create`) is added to the stream; the run is finished when it is settled.

Every step is logged in ``gpsa:{RUN}:events``. Workers register in ``gpsa:{RUN}:worker:ID``
hashes with a TTL (:meth:`WorkQueue.register_worker`). Payloads are opaque strings: this module
knows no PSA. Layout and scripts for other languages: docs/batch.md.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gpsa.central import workscripts as ws
from gpsa.errors import ConfigError

RUNS_KEY = "gpsa:runs"
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_KEYS = ("work", "dead", "done", "settled", "meta", "events", "errors")
#: default seconds without a heartbeat before a workload may be reclaimed
DEFAULT_LEASE = 10.0
#: default reassignments after the first delivery (4 deliveries in all)
DEFAULT_MAX_REASSIGN = 3


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _d(flat: Any) -> dict[str, str]:
    """A Redis hash or stream entry (dict or flat list, bytes) as a dict of str."""
    if isinstance(flat, dict):
        return {_s(k): _s(v) for k, v in flat.items()}
    return {_s(flat[i]): _s(flat[i + 1]) for i in range(0, len(flat), 2)}


def stream_id(entry: str) -> tuple[int, int]:
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)


def check_run_name(run: str) -> str:
    if not _NAME.match(run):
        raise ConfigError(f"batch run name {run!r}: use letters, digits, '.', '_' or '-' "
                          "(at most 64)")
    return run


def list_runs(client: Any) -> list[tuple[str, float]]:
    """Batch runs in this Redis, oldest first, with their init time (unix seconds)."""
    return [(_s(n), float(t)) for n, t in client.zrange(RUNS_KEY, 0, -1, withscores=True)]


@dataclass(frozen=True)
class Claim:
    """A workload held by ``consumer``: how it came (``new``, ``reclaimed``, ``taken`` after a
    release, ``own``), its delivery count including this one, and who held it before."""

    entry: str
    workload: str
    kind: str
    payload: str
    deliveries: int
    how: str
    previous: str
    consumer: str


@dataclass
class Snapshot:
    """Everything about a run, read in :attr:`round_trips` pipelined round trips."""

    run: str
    meta: dict[str, str]
    entries: list[tuple[str, dict[str, str]]]
    pending: dict[str, dict[str, Any]]
    last_delivered: str
    done: dict[str, dict[str, Any]]
    dead: list[dict[str, str]]
    errors: dict[str, str]
    workers: dict[str, dict[str, Any]]
    events: list[dict[str, str]] = field(default_factory=list)
    round_trips: int = 0
    seconds: float = 0.0


class WorkQueue:
    """The work queue of batch run ``run`` on the redis-py ``client`` (see module docstring)."""

    def __init__(self, client: Any, run: str) -> None:
        self.client = client
        self.run = check_run_name(run)
        self.keys = [self.key(k) for k in _KEYS]
        self._scripts = {name: client.register_script(getattr(ws, name))
                         for name in ("CLAIM", "HEARTBEAT", "COMMIT", "FAIL", "RELEASE")}
        self._meta: dict[str, str] | None = None

    def key(self, name: str) -> str:
        return f"gpsa:{{{self.run}}}:{name}"

    def worker_key(self, worker: str) -> str:
        return self.key(f"worker:{worker}")

    def host_slot(self, host: str) -> int:
        """0 for the first worker of ``host`` that asks, 1 for the second, ...: the workers of a
        host spread over its GPUs by this number (``gpu-slots`` hash, one counter per host)."""
        return int(self.client.hincrby(self.key("gpu-slots"), host, 1)) - 1

    # --- the run ------------------------------------------------------------------------------
    def create(self, workloads: Sequence[tuple[str, str]], *, final: str,
               lease: float = DEFAULT_LEASE, max_reassign: int = DEFAULT_MAX_REASSIGN,
               info: dict[str, Any] | None = None, replace: bool = False) -> None:
        """Store the run: one ``crystal`` entry per ``(workload, payload)`` and the final step's
        payload; refuses an existing run unless ``replace`` (its keys are deleted first)."""
        if lease <= 0 or max_reassign < 0:
            raise ConfigError(f"lease {lease:g} s, max_reassign {max_reassign}: the lease must "
                              "be positive and max_reassign at least 0")
        if not workloads:
            raise ConfigError(f"batch run {self.run}: no workloads")
        if self.exists():
            if not replace:
                raise ConfigError(f"batch run {self.run!r} already exists in Redis; give "
                                  "--force to replace it (or another --name)")
            self.delete()
        meta = {"run": self.run, "total": len(workloads), "lease_ms": int(lease * 1000),
                "max_reassign": max_reassign, "max_deliveries": max_reassign + 1,
                "final": final, "state": "running", "created": time.time(),
                "info": json.dumps(info or {})}
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.key("meta"), mapping=meta)
        for name, payload in workloads:
            pipe.xadd(self.key("work"), {"workload": name, "kind": "crystal",
                                         "payload": payload})
        pipe.xgroup_create(self.key("work"), ws.GROUP, id="0", mkstream=True)
        pipe.zadd(RUNS_KEY, {self.run: meta["created"]})
        pipe.execute()
        self._meta = None

    def exists(self) -> bool:
        return bool(self.client.exists(self.key("meta")))

    def delete(self) -> None:
        """Remove every key of the run (and its worker registrations)."""
        workers = [_s(w) for w in self.client.smembers(self.key("workers"))]
        self.client.delete(*self.keys, self.key("workers"), self.key("gpu-slots"),
                           *(self.worker_key(w) for w in workers))
        self.client.zrem(RUNS_KEY, self.run)

    def meta(self) -> dict[str, str]:
        """The run's settings (cached); ConfigError when the run does not exist."""
        if self._meta is None:
            meta = _d(self.client.hgetall(self.key("meta")))
            if not meta:
                raise ConfigError(f"no batch run {self.run!r} in this Redis (gpsa batch init)")
            self._meta = meta
        return self._meta

    @property
    def lease_ms(self) -> int:
        return int(self.meta()["lease_ms"])

    @property
    def max_deliveries(self) -> int:
        return int(self.meta()["max_deliveries"])

    def finished(self) -> bool:
        """True when the final workload is done or dead-lettered (nothing is left)."""
        return _s(self.client.hget(self.key("meta"), "state") or b"") == "complete"

    # --- a workload's life --------------------------------------------------------------------
    def _call(self, name: str, consumer: str, *args: Any, client: Any = None) -> Any:
        return self._scripts[name](keys=self.keys, args=[ws.GROUP, consumer, *args],
                                   client=client)

    def claim(self, consumer: str) -> Claim | None:
        """One workload for ``consumer`` (see module docstring), or None when none is free."""
        r = self._call("CLAIM", consumer, self.lease_ms, self.max_deliveries)
        if not r:
            return None
        how, entry, flat, n, previous = r
        f = _d(flat)
        return Claim(entry=_s(entry), workload=f["workload"], kind=f["kind"],
                     payload=f["payload"], deliveries=int(n), how=_s(how),
                     previous=_s(previous), consumer=consumer)

    def heartbeat(self, claim: Claim, client: Any = None) -> bool:
        """Renew the lease; False when ``claim.consumer`` no longer owns the entry."""
        return bool(self._call("HEARTBEAT", claim.consumer, claim.entry, client=client))

    def commit(self, claim: Claim, token: str, record: dict[str, Any]) -> bool:
        """The fenced commit of ``record`` (JSON-ready); False when refused (lease lost)."""
        body = json.dumps({**record, "token": token})
        return bool(self._call("COMMIT", claim.consumer, claim.entry, claim.workload,
                               claim.kind, token, body))

    def fail(self, claim: Claim, error: str) -> str:
        """A failed attempt: ``released`` (another try), ``dead`` or ``lost``."""
        return _s(self._call("FAIL", claim.consumer, claim.entry, error[:2000],
                             self.max_deliveries, ws.RELEASED_IDLE_MS))

    def release(self, claim: Claim, why: str) -> bool:
        """Give the workload back at once, its delivery not counted; False if not the owner."""
        return bool(self._call("RELEASE", claim.consumer, claim.entry, why,
                               ws.RELEASED_IDLE_MS))

    # --- workers ------------------------------------------------------------------------------
    def register_worker(self, worker: str, fields: dict[str, Any], ttl: float,
                        client: Any = None) -> None:
        """Write the worker's registry hash with a TTL (pipelined on ``client`` if given)."""
        pipe = client if client is not None else self.client.pipeline(transaction=False)
        key = self.worker_key(worker)
        pipe.hset(key, mapping={**{k: "" if v is None else v for k, v in fields.items()},
                                "ttl": ttl})
        pipe.pexpire(key, int(ttl * 1000))
        pipe.sadd(self.key("workers"), worker)
        if client is None:
            pipe.execute()

    def deregister_worker(self, worker: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(self.worker_key(worker))
        pipe.srem(self.key("workers"), worker)
        pipe.xgroup_delconsumer(self.key("work"), ws.GROUP, worker)
        pipe.execute(raise_on_error=False)

    # --- status -------------------------------------------------------------------------------
    def snapshot(self, *, events: bool = False) -> Snapshot:
        """Everything status and report show, in two pipelined round trips (ConfigError when the
        run does not exist)."""
        t0 = time.perf_counter()
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.key("meta"))
        pipe.xrange(self.key("work"))
        pipe.xpending_range(self.key("work"), ws.GROUP, min="-", max="+", count=100_000)
        pipe.xinfo_groups(self.key("work"))
        pipe.hgetall(self.key("done"))
        pipe.xrange(self.key("dead"))
        pipe.hgetall(self.key("errors"))
        pipe.smembers(self.key("workers"))
        if events:
            pipe.xrange(self.key("events"))
        res = pipe.execute(raise_on_error=False)
        meta = _d(res[0]) if isinstance(res[0], dict) else {}
        if not meta:
            raise ConfigError(f"no batch run {self.run!r} in this Redis (gpsa batch init)")
        for r in res[1:]:
            if isinstance(r, Exception):
                raise r
        group = next((g for g in res[3] if _s(g["name"]) == ws.GROUP), {})
        names = sorted(_s(w) for w in res[7])
        pipe = self.client.pipeline(transaction=False)
        for w in names:
            pipe.hgetall(self.worker_key(w))
            pipe.pttl(self.worker_key(w))
        regs = pipe.execute() if names else []
        workers: dict[str, dict[str, Any]] = {}
        gone = []
        for i, w in enumerate(names):
            fields, pttl = _d(regs[2 * i]), regs[2 * i + 1]
            if not fields or pttl < 0:
                gone.append(w)
                continue
            workers[w] = {**fields, "heartbeat_age": max(0.0, float(fields.get("ttl", 0))
                                                         - pttl / 1000)}
        if gone:  # registrations that expired: their workers stopped heartbeating
            self.client.srem(self.key("workers"), *gone)
        return Snapshot(
            run=self.run, meta=meta,
            entries=[(_s(i), _d(f)) for i, f in res[1]],
            pending={_s(p["message_id"]): {"consumer": _s(p["consumer"]),
                                           "idle_ms": int(p["time_since_delivered"]),
                                           "deliveries": int(p["times_delivered"])}
                     for p in res[2]},
            last_delivered=_s(group.get("last-delivered-id", b"0-0")),
            done={_s(k): json.loads(v) for k, v in res[4].items()},
            dead=[{"id": _s(i), **_d(f)} for i, f in res[5]],
            errors=_d(res[6]), workers=workers,
            events=[{"id": _s(i), **_d(f)} for i, f in res[8]] if events else [],
            round_trips=2 if names else 1, seconds=time.perf_counter() - t0)
