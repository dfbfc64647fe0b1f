"""Typed parameters declared on classes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gpsa.config.params import Configurable, Param
from gpsa.errors import ConfigError


class Thing(Configurable):
    count = Param(int, 3, "how many", min=0)
    scale = Param(float, 1.0, "factor")
    mode = Param(str, "fast", "speed", choices=("fast", "slow"))
    flag = Param(bool, False, "a switch")
    table = Param(Path, None, "input table", kind="input")
    gains = Param(list[float], [1.0, 2.0], "per-channel gains")
    label = Param(str, help="required label")


def test_defaults_and_values(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("x")
    t = Thing(label="a", count=5, scale=2, table=str(f))
    assert (t.count, t.scale, t.mode, t.flag, t.table, t.gains) == (5, 2.0, "fast", False, f,
                                                                    [1.0, 2.0])
    assert isinstance(t.scale, float)
    t2 = Thing(label="b")
    t2.gains.append(9.0)
    assert Thing(label="c").gains == [1.0, 2.0]  # defaults are not shared


@pytest.mark.parametrize("config, message", [
    ({"label": "a", "cuont": 1}, "unknown key 'cuont' (did you mean 'count'?)"),
    ({"label": "a", "count": "3"}, "Thing.count: expected int, got str '3'"),
    ({"label": "a", "count": True}, "Thing.count: expected int, got bool"),
    ({"label": "a", "count": -1}, "Thing.count: -1 is below the minimum 0"),
    ({"label": "a", "mode": "warp"}, "Thing.mode: 'warp' is not one of 'fast', 'slow'"),
    ({"label": "a", "gains": [1, "x"]}, "Thing.gains[1]: expected float"),
    ({"label": "a", "table": "/no/such/file"}, "Thing.table: file not found: /no/such/file"),
    ({}, "missing required key 'label'"),
])
def test_errors_name_the_key(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Thing(**config)


def test_describe() -> None:
    d = Thing.describe_params()
    assert d["count"] == {"type": "int", "help": "how many", "default": 3, "required": False}
    assert d["gains"]["type"] == "list[float]" and d["label"]["required"]
    assert d["table"]["kind"] == "input"


def test_bad_declarations() -> None:
    with pytest.raises(TypeError):
        Param(dict, {})
    with pytest.raises(TypeError):
        Param(str, "", kind="weird")
