from __future__ import annotations

import numpy as np
import pytest

from gpsa.errors import ConfigError
from gpsa.psa import GridSearchPSA, PsaSettings


def test_defaults_are_valid() -> None:
    s = PsaSettings()
    assert s.p == 1.0 and s.mask == "agata" and s.samples == 40 and s.search == "full"
    assert s.iterations == 2 and s.max_segments == 12 and s.threshold_kev == 15.0


def test_from_dict_round_trip() -> None:
    s = PsaSettings.from_dict({"p": 2, "search": "ags", "shortlist": 32, "refine_t0": True})
    assert s.p == 2 and s.search == "ags" and s.shortlist == 32 and s.refine_t0
    assert PsaSettings.from_dict(s.to_dict()) == s


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match="psa.exponent: unknown setting"):
        PsaSettings.from_dict({"exponent": 2})


@pytest.mark.parametrize(("key", "value", "match"), [
    ("p", 0.0, "psa.p: must be > 0"),
    ("p", -1, "psa.p"),
    ("p", "two", "psa.p: expected a number"),
    ("samples", 0, "psa.samples"),
    ("samples", 2.5, "psa.samples: expected an integer"),
    ("search", "fast", "psa.search: must be one of full, ags"),
    ("backend", "cuda", "psa.backend"),
    ("mask", "cross", "psa.mask"),
    ("mask", np.ones((36, 36), bool), "psa.mask: a custom mask must be a 36x37"),
    ("mask", np.zeros((36, 37), bool), "diagonal"),
    ("refine_t0", 1, "psa.refine_t0: expected true/false"),
    ("shortlist", -1, "psa.shortlist"),
    ("transfer_dtype", "int8", "psa.transfer_dtype"),
])
def test_bad_values_are_named(key: str, value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        PsaSettings.from_dict({key: value})


@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, 0.3, 1.7])
def test_any_positive_p(p: float) -> None:
    assert PsaSettings(p=p).p == p


def test_custom_mask_accepted() -> None:
    m = np.zeros((36, 37), bool)
    m[np.arange(36), np.arange(36)] = True
    m[:, 36] = True
    assert PsaSettings(mask=m).to_dict()["mask"][0][36] is True


def test_window_must_fit_the_basis(basis) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="psa.samples"):
        GridSearchPSA(basis, PsaSettings(samples=60))
    with pytest.raises(ConfigError, match="psa.samples"):
        GridSearchPSA(basis, PsaSettings(samples=10, sample_offset=-20))
