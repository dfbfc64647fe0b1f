"""The work queue on a real redis-server: claims, the heartbeat lease, reclaim of idle workloads,
the fenced commit, release, dead letters after max_reassign + 1 deliveries, the final step, the
heartbeat thread, the worker registry and the status snapshot."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from gpsa.central.lease import Lease
from gpsa.central.workqueue import WorkQueue, list_runs
from gpsa.central.workscripts import GROUP
from gpsa.central.workstatus import report, report_text, status
from gpsa.errors import ConfigError


def make_queue(client: Any, n: int = 2, *, lease: float = 0.3, max_reassign: int = 3,
               run: str = "t") -> WorkQueue:
    q = WorkQueue(client, run)
    q.create([(f"{i:02d}A", f"payload {i}") for i in range(n)], final='{"final": true}',
             lease=lease, max_reassign=max_reassign)
    return q


def events(q: WorkQueue, kind: str) -> list[dict[str, str]]:
    return [e for e in q.snapshot(events=True).events if e["ev"] == kind]


def test_claims_hand_out_each_workload_once(client: Any) -> None:
    q = make_queue(client)
    a, b = q.claim("A"), q.claim("B")
    assert a is not None and b is not None
    assert (a.workload, a.payload, a.how, a.deliveries) == ("00A", "payload 0", "new", 1)
    assert b.workload == "01A" and q.claim("C") is None
    assert list_runs(client)[0][0] == "t"
    with pytest.raises(ConfigError, match="already exists"):
        make_queue(client)
    with pytest.raises(ConfigError, match="no batch run 'other'"):
        WorkQueue(client, "other").meta()
    with pytest.raises(ConfigError, match="run name"):
        WorkQueue(client, "a{b}")


def test_heartbeat_keeps_the_lease_and_silence_loses_it(client: Any) -> None:
    q = make_queue(client, 1)
    a = q.claim("A")
    assert a is not None
    for _ in range(6):  # 0.6 s, twice the lease, with heartbeats
        time.sleep(0.1)
        assert q.heartbeat(a)
        assert q.claim("C") is None
    time.sleep(0.35)  # silence past the lease
    c = q.claim("C")
    assert c is not None and (c.how, c.previous, c.deliveries) == ("reclaimed", "A", 2)


def test_fence_refuses_the_late_commit_of_a_zombie(client: Any) -> None:
    q = make_queue(client, 1)
    a = q.claim("A")
    time.sleep(0.35)
    b = q.claim("B")
    assert a is not None and b is not None and b.entry == a.entry
    assert not q.heartbeat(a)  # the zombie's heartbeat neither renews nor steals
    pending = client.xpending_range(q.key("work"), GROUP, "-", "+", 10)
    assert [p["consumer"] for p in pending] == [b"B"]
    assert not q.commit(a, "tokA", {"by": "A"})
    assert q.commit(b, "tokB", {"by": "B"})
    assert not q.commit(a, "tokA", {"by": "A"})  # after B's commit too
    snap = q.snapshot(events=True)
    assert snap.done["00A"]["by"] == "B"
    assert len(events(q, "commit")) == 1 and len(events(q, "refused")) == 2


def test_a_retried_commit_is_idempotent(client: Any) -> None:
    q = make_queue(client, 1)
    a = q.claim("A")
    assert a is not None
    assert q.commit(a, "tok", {"n": 1}) and q.commit(a, "tok", {"n": 1})
    assert len(events(q, "commit")) == 1 and not events(q, "refused")


def test_release_gives_the_workload_back_at_once_uncounted(client: Any) -> None:
    q = make_queue(client, 1, lease=30)
    a = q.claim("A")
    assert a is not None and q.release(a, "SIGTERM")
    assert not q.release(a, "again")
    b = q.claim("B")  # long before the 30 s lease
    assert b is not None and (b.how, b.previous, b.deliveries) == ("taken", "released", 1)
    assert not q.commit(a, "tokA", {}) and q.commit(b, "tokB", {})


def test_lost_reply_claim_is_found_again(client: Any) -> None:
    q = make_queue(client, 1)
    client.xreadgroup(GROUP, "A", {q.key("work"): ">"}, count=1)  # a reply lost on the way
    a = q.claim("A")
    assert a is not None and a.how == "own" and a.workload == "00A"


def test_crashing_workload_is_dead_lettered_after_max_reassign_plus_one(client: Any) -> None:
    q = make_queue(client, 2, lease=0.2, max_reassign=2)
    ok = q.claim("good")
    assert ok is not None and q.commit(ok, "t", {})
    deliveries = []
    for i in range(5):
        c = q.claim(f"w{i}")  # each worker dies holding it: no heartbeat
        if c is None or c.kind == "final":
            break
        deliveries.append(c.deliveries)
        time.sleep(0.25)
    assert deliveries == [1, 2, 3]  # max_reassign + 1 deliveries, then the dead letter
    snap = q.snapshot()
    (dead,) = snap.dead
    assert (dead["workload"], dead["reason"], dead["deliveries"]) == ("01A", "lease expired",
                                                                        "3")
    assert dead["worker"] == "w2" and "no heartbeat from w2" in dead["error"]
    assert c is not None and c.kind == "final"  # every crystal settled: the final step


def test_failed_attempts_keep_the_error_and_end_in_the_dead_letters(client: Any) -> None:
    q = make_queue(client, 1, max_reassign=1)
    a = q.claim("A")
    assert a is not None and q.fail(a, "boom 1") == "released"
    b = q.claim("B")
    assert b is not None and (b.how, b.deliveries) == ("taken", 2)
    assert q.fail(a, "late") == "lost"
    assert q.fail(b, "boom 2") == "dead"
    rep = report(q.snapshot(events=True))
    assert rep["dead_letters"][0]["error"] == "boom 2"
    assert rep["failures_by_reason"] == {"failed": 1}
    assert rep["failures_by_worker"] == {"A": {"failed": 1}, "B": {"failed": 1}}
    assert rep["reassignments"][0]["from"] == "released"
    assert "boom 2" in report_text(rep)


def test_final_step_waits_for_every_crystal_then_ends_the_run(client: Any) -> None:
    q = make_queue(client, 2, max_reassign=0)
    a, b = q.claim("A"), q.claim("B")
    assert a is not None and b is not None
    assert q.commit(a, "ta", {})
    rows = {r["workload"]: r for r in status(q.snapshot())["workloads"]}
    assert rows["_final"]["state"] == "waiting" and rows["01A"]["state"] == "running"
    assert q.claim("C") is None
    assert q.fail(b, "boom") == "dead"  # max_reassign 0: one delivery
    f = q.claim("C")
    assert f is not None and f.kind == "final" and f.payload == '{"final": true}'
    assert not q.finished()
    assert q.commit(f, "tf", {"flushed": True})
    assert q.finished()
    st = status(q.snapshot())
    assert st["state"] == "complete" and st["counts"] == {"done": 1, "failed": 1}


def test_lease_thread_renews_and_releases_on_stop(client: Any) -> None:
    q = make_queue(client, 1, lease=0.5)
    stop = threading.Event()
    lease = Lease(q, "A", {"host": "h", "pid": 1, "device": "cpu"}, stop).start()
    try:
        a = q.claim("A")
        assert a is not None
        lease.hold(a)
        time.sleep(1.5)  # three leases
        assert q.claim("B") is None and not lease.lost
        workers = q.snapshot().workers
        assert workers["A"]["workload"] == "00A" and workers["A"]["heartbeat_age"] < 0.5
        t0 = time.monotonic()
        stop.set()
        while (b := q.claim("B")) is None:
            time.sleep(0.02)
        assert time.monotonic() - t0 < 0.5 and b.how == "taken"
        assert lease.released
    finally:
        lease.close()


def test_lease_thread_notices_a_lost_lease(client: Any) -> None:
    q = make_queue(client, 1, lease=0.3)
    lease = Lease(q, "A", {}, threading.Event(), interval=30).start()  # beats only on demand
    try:
        a = q.claim("A")
        assert a is not None
        lease.hold(a)
        time.sleep(0.5)
        assert q.claim("B") is not None
        lease._due.set()
        deadline = time.monotonic() + 2
        while not lease.lost and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lease.lost
    finally:
        lease.close()


def test_snapshot_takes_two_round_trips_and_drops_expired_workers(client: Any) -> None:
    q = make_queue(client, 3, lease=0.3)
    for i in range(5):
        q.register_worker(f"w{i}", {"host": "h", "pid": i, "workload": ""}, ttl=0.2 if i else 30)
    a = q.claim("w0")
    assert a is not None
    snap = q.snapshot()
    assert snap.round_trips == 2 and len(snap.workers) == 5
    time.sleep(0.35)
    snap = q.snapshot()
    assert list(snap.workers) == ["w0"] and client.scard(q.key("workers")) == 1
    states = {r["workload"]: r["state"] for r in status(snap)["workloads"]}
    assert states == {"00A": "stalled", "01A": "pending", "02A": "pending", "_final": "waiting"}
    q.deregister_worker("w0")
    assert not q.snapshot().workers
