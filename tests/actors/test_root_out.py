"""The ``root-writer`` consumer read back with uproot: every branch (event number and event status
included) with its documented type, and a tree with zero entries when the run had no events."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from gpsa.actors import root_out
from gpsa.actors.root_out import TREE, RootWriter
from gpsa.block import PsaBlock, PsaEvents, PsaHits
from gpsa.runtime.actor import RunContext
from gpsa.status import EventStatus, PsaStatus

uproot = pytest.importorskip("uproot")

DOC_PAGE = Path(__file__).resolve().parents[2] / "docs" / "root-output.md"
#: branch -> ROOT-side numpy dtype, as documented
BRANCHES = {
    "nbCores": "int32", "coreTS": "uint64", "coreEventNumber": "uint32",
    "coreEventStatus": "uint16", "coreE0": "float32", "coreE1": "float32", "coreT0": "float32",
    "coreId": "int32", "coreStatus": "int32", "nbHits": "int32", "hitE": "float32",
    "hitX": "float32", "hitY": "float32", "hitZ": "float32", "hitSg": "int32", "hitId": "int32",
    "hitT": "float32", "hitStatus": "int32",
}


def psa_block() -> PsaBlock:
    n = 3
    events = PsaEvents(
        timestamps=np.array([10, 20, 30], np.uint64),
        event_numbers=np.array([7, 8, 4_000_000_000], np.uint32),
        crystal_ids=np.full(n, 5, np.uint16),
        status=np.array([0, EventStatus.NO_T0, EventStatus.SATURATED | EventStatus.PILEUP],
                        np.uint16),
        e0=np.array([100.0, 200.0, 300.0], np.float32), e1=np.ones(n, np.float32),
        t0=np.full(n, 20.0, np.float32), t1=np.zeros(n, np.float32),
        psa_status=np.array([0, PsaStatus.NOT_ANALYSED, 0], np.uint16))
    hits = PsaHits.build(np.array([0, 0, 2]), segment=np.array([1, 2, 3]),
                         crystal=np.full(3, 5), x=np.array([1.0, 2.0, 3.0]),
                         y=np.zeros(3), z=np.zeros(3), energy=np.array([40.0, 60.0, 300.0]))
    return PsaBlock(events=events, hits=hits)


def write(tmp_path: Path, blocks: list[PsaBlock]) -> Path:
    writer = RootWriter()
    writer.start(RunContext(crystal="00A", output_dir=tmp_path))
    try:
        for block in blocks:
            writer.process(block)
        writer.flush()
    finally:
        writer.stop()
    return Path(writer.out_path)


def branch_types(tree: object) -> dict[str, str]:
    out = {}
    for name in tree.keys():  # type: ignore[attr-defined]
        interp = tree[name].interpretation  # type: ignore[index]
        dtype = getattr(interp, "content", interp).to_dtype  # jagged: the content's dtype
        out[name] = np.dtype(dtype).newbyteorder("=").name
    return out


def test_event_number_and_status_branches(tmp_path: Path) -> None:
    block = psa_block()
    empty = block.take_events(np.zeros(len(block), bool))
    tree = uproot.open(write(tmp_path, [block, empty, block]))[TREE]
    assert tree.num_entries == 6
    assert branch_types(tree) == BRANCHES
    numbers = tree["coreEventNumber"].array(library="np")
    assert [int(v[0]) for v in numbers] == [7, 8, 4_000_000_000] * 2
    status = tree["coreEventStatus"].array(library="np")
    assert [int(v[0]) for v in status] == block.events.status.tolist() * 2
    assert tree["nbHits"].array(library="np").tolist() == [2, 0, 1] * 2


def test_empty_run_writes_the_tree_with_zero_entries(tmp_path: Path) -> None:
    with uproot.open(write(tmp_path, [])) as f:
        assert TREE in [k.split(";")[0] for k in f.keys()]
        tree = f[TREE]
        assert tree.num_entries == 0
        assert branch_types(tree) == BRANCHES


@pytest.mark.parametrize("text", [root_out.__doc__ or "", DOC_PAGE.read_text()],
                         ids=["docstring", "docs-page"])
def test_every_branch_documented_with_type(text: str) -> None:
    for name, dtype in BRANCHES.items():
        assert re.search(rf"``?{name}``?\s*\|?\s*{dtype}\b", text), (name, dtype)
