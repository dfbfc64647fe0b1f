"""bench/gpu_model.py: the model's arithmetic follows its written assumptions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def model() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("gpu_model", BENCH / "gpu_model.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


GEO = {"points": 47524.0, "mean_points_per_segment": 1320.0, "samples": 40.0, "channels": 10.0,
       "terms_per_full_search": 528000.0}


def test_bounds_follow_the_assumptions(model: ModuleType) -> None:
    h = model.H100
    m = model.per_search(1.0, "full", GEO, 4, hits_per_call=66.0)
    terms = 1320.0 * 400.0
    assert m["terms"] == pytest.approx(terms)
    assert m["basis_bytes_read"] == pytest.approx(4 * terms)
    lanes = h["sms"] * h["fp32_lanes_per_sm"] * h["clock_hz"]
    b = m["bounds_hits_per_s"]
    assert m["fraction_of_sms_busy"] == pytest.approx(0.5)  # 66 hits keep 66 of 132 SMs busy
    assert b["fp32"] == pytest.approx(0.3 * lanes / (3 * terms) * 0.5)
    assert b["hbm"] == pytest.approx(0.3 * h["hbm_bytes_per_s"] * 66 / (4 * terms))
    assert m["model_hits_per_s"] == min(b.values())


def test_general_p_is_bounded_by_the_sfu(model: ModuleType) -> None:
    m = model.per_search(0.3, "full", GEO, 2, hits_per_call=200.0)
    assert m["limit"] == "sfu" and m["fraction_of_sms_busy"] == 1.0
    assert m["fp32_bound_with_accurate_powf"] < m["bounds_hits_per_s"]["fp32"]


def test_committed_result_is_labelled_a_model() -> None:
    import json

    data = json.loads((BENCH / "results" / "gpu_model.json").read_text())
    assert data["kind"].startswith("MODEL") and "no GPU" in data["kind"]
    assert set(data["assumptions"]) >= {"peak", "basis", "arithmetic", "memory", "host"}
