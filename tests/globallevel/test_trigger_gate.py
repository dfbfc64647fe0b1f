"""The slow path's gate: PSA work equals the trigger's acceptance, the accepted events' PSA
output equals the untriggered run's, the bounded hold with late decisions (both policies,
counted), and fast and slow paths running at the same time through a real redis-server."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gpsa.cli.main import main
from gpsa.globallevel.rows import Columns
from gpsa.globallevel.trigger_gate import Gate
from gpsa.globallevel.trigger_io import DecisionBoard, FileSource
from gpsa.plugins.manager import reset_plugin_manager

EVENTS, BLOCK = 160, 40


@pytest.fixture(autouse=True)
def default_plugins() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def run_file(folder: Path, basis: Path, gate: str = "", run: str = "", out: str = "out") -> Path:
    """One crystal simulated, preprocessed, [gated,] analysed and written."""
    folder.mkdir(parents=True, exist_ok=True)
    gate_stage = f'[[stage]]\nactor = "trigger-gate"\n{gate}\n' if gate else ""
    text = textwrap.dedent(f"""\
        [run]
        crystals = ["00A"]
        output = "{out}"
        {run}

        [[stage]]
        actor = "simulator"
        basis = "{basis}"
        events = {EVENTS}
        block_size = {BLOCK}
        truth = ""

        [[stage]]
        actor = "preprocess"
        align_t0 = 20

        """) + gate_stage + textwrap.dedent(f"""\
        [[stage]]
        actor = "psa"
        basis = "{basis}"

        [[stage]]
        actor = "adf-writer"
        """)
    path = folder / "run.toml"
    path.write_text(text)
    return path


def psa_output(out: Path) -> Any:
    from gpsa.adf import read_all

    return read_all(out / "00A" / "psa.adf").psa


def stage(out: Path, label: str) -> dict[str, Any]:
    record = json.loads((out / "00A" / "gpsa-run.json").read_text())
    return next(a for a in record["result"]["actors"] if a["label"] == label)


@pytest.fixture(scope="module")
def untriggered(basis_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:  # noqa: F811
    folder = tmp_path_factory.mktemp("plain")
    assert main(["run", str(run_file(folder, basis_file)), "-q"]) == 0
    return psa_output(folder / "out")


def test_psa_work_equals_acceptance_and_output_is_identical(
        basis_file: Path, untriggered: Any, tmp_path: Path) -> None:  # noqa: F811
    threshold = float(np.quantile(untriggered.events.e0, 0.75))  # accept ~25 %
    gate = f'conditions = ["energy-sum"]\nmin_energy_kev = {threshold}\nmin_fold = 1'
    conf = run_file(tmp_path, basis_file, gate)
    assert main(["trigger", str(conf)]) == 0
    decisions = FileSource(tmp_path / "out" / "trigger" / "00A.npz")
    accepted = decisions.accepted
    assert decisions.through == EVENTS - 1 and decisions.complete
    assert 0.15 * EVENTS < accepted.size < 0.35 * EVENTS  # 25 % +- 3.7 sigma
    summary = json.loads((tmp_path / "out" / "trigger" / "trigger.json").read_text())
    assert summary["trigger"]["events_accepted"] == accepted.size
    assert main(["run", str(conf), "-q"]) == 0
    out = tmp_path / "out"
    assert stage(out, "psa")["events"] == accepted.size  # PSA work = the acceptance, exactly
    assert stage(out, "simulator")["events"] == EVENTS
    g = stage(out, "trigger-gate")["counters"]
    assert (g["events_in"], g["events_accepted"]) == (EVENTS, accepted.size)
    assert g["events_rejected"] == EVENTS - accepted.size
    assert g["events_late_accepted"] == g["events_late_rejected"] == 0
    triggered = psa_output(out)
    mask = np.isin(untriggered.events.event_numbers, accepted)
    assert triggered.equals(untriggered.take_events(mask))  # the same PSA rows, bit for bit


def test_stale_decisions_are_refused(basis_file: Path, tmp_path: Path) -> None:  # noqa: F811
    from gpsa.config.resolve import resolve_config
    from gpsa.runtime.modes import run_simple

    conf = run_file(tmp_path, basis_file, "min_fold = 1")
    assert main(["trigger", str(conf)]) == 0
    run_file(tmp_path, basis_file, "min_fold = 2")
    slow_alone = run_simple(resolve_config(conf), stop=threading.Event())
    assert slow_alone.exit_code == 2  # decisions made with other settings: refused at start
    # `gpsa run` runs the fast path first: one command, fresh decisions, PSA on the accepted
    assert main(["run", str(conf), "-q"]) == 0
    summary = json.loads((tmp_path / "out" / "trigger" / "trigger.json").read_text())
    assert summary["settings"]["min_fold"] == 2
    assert stage(tmp_path / "out", "psa")["events"] == \
        summary["trigger"]["crystal_events_accepted"]


# --- the bounded hold ------------------------------------------------------------------------
def rows(a: int, b: int) -> Columns:
    return Columns(timestamps=np.arange(a, b, dtype=np.uint64),
                   event_numbers=np.arange(a, b, dtype=np.uint32))


def feed(gate: Gate, n_blocks: int = 10, size: int = 20) -> tuple[list[int], list[int]]:
    """Push blocks; the numbers passed on, and the number held after each push."""
    out, held = [], []
    for i in range(n_blocks):
        for b in gate.push(rows(i * size, (i + 1) * size)):
            out += b.event_numbers.tolist()
        held.append(gate.held)
    for b in gate.flush():
        out += b.event_numbers.tolist()
    return out, held


@pytest.mark.parametrize("late", ["accept", "reject"])
def test_no_decisions_bounded_hold_and_late_policy(late: str) -> None:
    gate = Gate(DecisionBoard(), max_held_events=50, decision_timeout=0.15, late=late)
    out, held = feed(gate)
    assert max(held) <= 50 and gate.counters.max_held <= 50 and gate.held == 0
    c = gate.counters
    if late == "accept":
        assert out == list(range(200)) and c.events_late_accepted == 200
    else:
        assert out == [] and c.events_late_rejected == 200
    assert c.events_accepted == c.events_rejected == 0 and c.wait_ms > 0


def publish_later(board: DecisionBoard, delay: float, accepted: np.ndarray, through: int,
                  end: bool = False) -> threading.Thread:
    def go() -> None:
        time.sleep(delay)
        board.publish(accepted, through)
        if end:
            board.end()

    t = threading.Thread(target=go)
    t.start()
    return t


def test_decisions_late_but_within_timeout_are_waited_for() -> None:
    board = DecisionBoard()
    evens = np.arange(0, 200, 2, dtype=np.uint32)
    threads = [publish_later(board, 0.1, evens[evens < 100], 99),
               publish_later(board, 0.3, evens[evens >= 100], 199, end=True)]
    gate = Gate(board, max_held_events=50, decision_timeout=5.0, late="reject")
    out, held = feed(gate)
    for t in threads:
        t.join()
    assert max(held) <= 50 and out == evens.tolist()
    c = gate.counters
    assert (c.events_accepted, c.events_rejected, c.events_late_rejected) == (100, 100, 0)
    assert c.wait_ms >= 100  # it waited for the decisions instead of giving up


def test_decisions_known_ahead_match_every_later_block() -> None:
    board = DecisionBoard()  # decided through 199 before the first block: the local case
    board.publish(np.arange(1, 200, 3, dtype=np.uint32), 199)
    gate = Gate(board, max_held_events=0, decision_timeout=0.0)
    out, held = feed(gate)
    assert out == list(range(1, 200, 3)) and max(held) == 0
    assert (gate.counters.events_accepted, gate.counters.events_rejected) == (67, 133)


def test_decision_after_the_timeout_is_ignored_never_doubled() -> None:
    board = DecisionBoard()
    t = publish_later(board, 0.4, np.arange(0, 200, 2, dtype=np.uint32), 199, end=True)
    gate = Gate(board, max_held_events=30, decision_timeout=0.1, late="accept")
    out, held = feed(gate, n_blocks=5)
    t.join()
    tail, _ = feed(gate, n_blocks=0)
    assert max(held) <= 30 and sorted(out + tail) == list(range(100))  # each once
    assert gate.counters.events_late_accepted == 100


# --- fast and slow path at the same time, through Redis ------------------------------------
@pytest.fixture
def redis_url(redis_server: Any) -> str:
    return str(redis_server.url)


def test_redis_concurrent_fast_and_slow_paths(basis_file: Path, untriggered: Any,  # noqa: F811
                                              tmp_path: Path, redis_url: str) -> None:
    from gpsa.central.connection import connect
    from gpsa.cli.trigger import run_fast_path
    from gpsa.config.resolve import resolve_config
    from gpsa.runtime.modes import run_simple

    threshold = float(np.quantile(untriggered.events.e0, 0.75))
    gate = (f'conditions = ["energy-sum"]\nmin_energy_kev = {threshold}\nsource = "redis"\n'
            'run = "tg"\ndecision_timeout = 60.0\nmax_held_events = 80')
    conf = run_file(tmp_path, basis_file, gate, run=f'redis = "{redis_url}"')
    cfg = resolve_config(conf)
    slow = threading.Thread(target=lambda: reports.append(run_simple(cfg,
                                                                     stop=threading.Event())))
    reports: list[Any] = []
    slow.start()  # the slow path first: its gate waits for the decisions
    time.sleep(0.5)
    fast = run_fast_path(resolve_config(conf), redis_url=redis_url)
    slow.join(120)
    assert not slow.is_alive() and reports[0].outcomes[0].status == "complete"
    client = connect(redis_url)
    end = json.loads(client.get("gpsa:{tg:00A}:decisions:end"))
    client.close()
    assert end["complete"] and end["through"] == EVENTS - 1
    assert end["accepted"] == fast["trigger"]["crystal_events_accepted"]
    out = tmp_path / "out"
    g = stage(out, "trigger-gate")["counters"]
    assert stage(out, "psa")["events"] == end["accepted"] == g["events_accepted"]
    assert g["events_late_accepted"] == g["events_late_rejected"] == 0
    assert g["max_held"] <= 80
    mask = np.isin(untriggered.events.event_numbers,
                   psa_output(out).events.event_numbers)
    assert psa_output(out).equals(untriggered.take_events(mask))


def test_gpsa_run_passes_its_redis_url_to_the_gate(basis_file: Path, untriggered: Any,  # noqa: F811
                                                   tmp_path: Path, redis_url: str) -> None:
    """`gpsa run --redis URL` (no [run] redis in the file) gives the gate the URL."""
    from gpsa.cli.main import main
    from gpsa.cli.trigger import run_fast_path
    from gpsa.config.resolve import resolve_config

    gate = ('conditions = ["energy-sum"]\nmin_energy_kev = 0.0\nsource = "redis"\n'
            'run = "tu"\ndecision_timeout = 60.0')
    conf = run_file(tmp_path, basis_file, gate)
    codes: list[int] = []
    slow = threading.Thread(target=lambda: codes.append(main(["run", str(conf), "-q",
                                                              "--redis", redis_url])))
    slow.start()
    time.sleep(0.5)
    run_fast_path(resolve_config(conf), redis_url=redis_url)
    slow.join(120)
    assert codes == [0]
    assert stage(tmp_path / "out", "psa")["events"] == EVENTS  # every event accepted
