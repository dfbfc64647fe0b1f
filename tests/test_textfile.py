"""The shared lexical form of gpsa's text tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpsa.errors import ConfigError
from gpsa.preprocess.calibration import read_coefficients
from gpsa.textfile import Record, read_records, records


def test_records_drop_comments_and_blank_lines() -> None:
    text = "# header\n\n1 2.5  3 # tail\n   \nname 0xFA # c\n"
    assert list(records(text)) == [Record(3, ["1", "2.5", "3"], "1 2.5  3"),
                                   Record(5, ["name", "0xFA"], "name 0xFA")]


def test_unreadable_file_is_a_one_line_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "gains.cal"
    with pytest.raises(ConfigError, match=r"gains\.cal: cannot read calibration file: "):
        list(read_records(missing, "calibration file"))
    with pytest.raises(ConfigError, match="cannot read calibration file"):
        read_coefficients(missing)
