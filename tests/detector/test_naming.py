"""Crystal names NNL ↔ ids (id = 3·NN + {A: 0, B: 1, C: 2})."""

from __future__ import annotations

import pytest

from gpsa.detector import crystal_id, crystal_name, parse_crystal, shape_letter
from gpsa.errors import ConfigError


@pytest.mark.parametrize("name, cid", [("00A", 0), ("00B", 1), ("00C", 2), ("01A", 3),
                                       ("14C", 44), ("59C", 179), ("07b", 22)])
def test_examples(name: str, cid: int) -> None:
    assert crystal_id(name) == cid
    assert crystal_name(cid) == name.upper()
    assert shape_letter(cid) == name[-1].upper()


def test_round_trip_over_all_180_crystals() -> None:
    names = [crystal_name(i) for i in range(180)]
    assert len(set(names)) == 180
    assert [crystal_id(n) for n in names] == list(range(180))


@pytest.mark.parametrize("bad", ["60A", "0A", "000A", "00D", "", "A00", "1 A", "xx"])
def test_bad_names(bad: str) -> None:
    with pytest.raises(ConfigError, match="crystal name"):
        crystal_id(bad)


@pytest.mark.parametrize("bad", [-1, 180, 2.5, True])
def test_bad_ids(bad) -> None:
    with pytest.raises(ConfigError, match="crystal id"):
        crystal_name(bad)


def test_parse_crystal_accepts_names_and_ids() -> None:
    assert parse_crystal("14C") == 44
    assert parse_crystal(" 44 ") == 44
    assert crystal_id("03A", n_clusters=4) == 9
    with pytest.raises(ConfigError):
        parse_crystal("180")
    with pytest.raises(ConfigError):
        crystal_id("04A", n_clusters=4)
