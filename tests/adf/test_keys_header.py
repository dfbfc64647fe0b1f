"""Key tables and the frame-key scans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpsa.adf import KeyTable
from gpsa.adf.header import (
    SCAN_END,
    SCAN_HUGE,
    SCAN_LIMIT,
    SCAN_NEED,
    SCAN_SHORT,
    find_resync,
    scan_frames,
)
from gpsa.adf.keys import AGATA_KEYS
from gpsa.errors import ConfigError

from ._helpers import raw_frame


def test_default_table_matches_domain_and_shipped_file() -> None:
    t = KeyTable.default()
    assert t.value_of("data:psa") == 0xFA010102 and t.value_of("conf:global") == 0xFA000200
    assert t.name_of(0xCA010102) == "event:data:psa" and t.is_composite(0xCA010102)
    assert not t.is_composite(0xFA010101)
    assert t.version_of("data:psa") == 1 and t.version_of("data:eb") == 1
    assert len(t) == len(AGATA_KEYS) == 19
    assert KeyTable.agata_file().entries == t.entries


def test_parse_formats(tmp_path: Path) -> None:
    path = tmp_path / "k.txt"
    path.write_text("# comment\n\nfoo 0x10  # trailing\nbar 32 v0 composite\n"
                    "baz 0xCA000001 simple\n")
    t = KeyTable.load(path)
    assert [(e.name, e.value, e.version, e.composite) for e in t] == [
        ("foo", 16, None, False), ("bar", 32, 0, True), ("baz", 0xCA000001, None, False)]
    assert t.label(16) == "foo" and t.label(17) == "0x00000011"
    assert t.known_values().tolist() == [16, 32, 0xCA000001]
    assert t.with_versions({"foo": 3}).version_of("foo") == 3


@pytest.mark.parametrize(("text", "words"), [
    ("a 1\na 2\n", "key name 'a' defined twice"),
    ("a 1\nb 1\n", "used by both 'a' and 'b'"),
    ("a\n", "k.txt:1: expected"),
    ("a 1\nb zz\n", "k.txt:2: key value 'zz'"),
    ("a 0x1FFFFFFFF\n", "does not fit in 32 bits"),
    ("a 1 fast\n", "unknown token 'fast'"),
])
def test_parse_errors(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        KeyTable.parse(text, "k.txt")


def test_load_missing_and_unknown_version_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read key table"):
        KeyTable.load(tmp_path / "none.txt")
    with pytest.raises(ConfigError, match="unknown key name"):
        KeyTable.default().with_versions({"data:nothing": 1})


def _buf(*frames: bytes) -> np.ndarray:
    return np.frombuffer(b"".join(frames), np.uint8)


def test_scan_limits_and_statuses() -> None:
    f = [raw_frame(1, b"a" * i) for i in range(5)]  # lengths 20..24
    buf = _buf(*f)
    starts, stop, status, _ = scan_frames(buf, 0, 0, 0, 3, 1 << 40, 1000)
    assert starts.tolist() == [0, 20, 41] and stop == 63 and status == SCAN_LIMIT
    starts, stop, status, _ = scan_frames(buf, 0, 0, 0, 99, 41, 1000)
    assert starts.tolist() == [0, 20] and status == SCAN_LIMIT  # 41 bytes fit, 63 not
    starts, _, status, _ = scan_frames(buf, 0, 0, 0, 99, 5, 1000)
    assert starts.tolist() == [0] and status == SCAN_LIMIT  # first frame always taken
    _, stop, status, _ = scan_frames(buf, 0, 0, 0, 99, 1 << 40, 1000)
    assert stop == buf.size and status == SCAN_END
    _, stop, status, need = scan_frames(buf[:-3], 0, 0, 0, 99, 1 << 40, 1000)
    assert stop == 63 + 23 and status == SCAN_NEED and need == 24
    _, stop, status, need = scan_frames(buf[:70], 0, 0, 0, 99, 1 << 40, 1000)
    assert stop == 63 and status == SCAN_NEED and need == 20
    bad = _buf(f[0], b"\x05" + f[1][1:])
    assert scan_frames(bad, 0, 0, 0, 99, 1 << 40, 1000)[2] == SCAN_SHORT
    assert scan_frames(buf, 0, 0, 0, 99, 1 << 40, 21)[2] == SCAN_HUGE


def test_find_resync() -> None:
    known = np.array([7], np.uint32)
    good = raw_frame(7, b"xyz") + raw_frame(9, b"")
    buf = _buf(b"\x00" * 5, good)
    assert find_resync(buf, 0, known, 1000, True) == (5, True)
    # a known key at the very end of the data counts only at EOF
    tail = _buf(b"\x00" * 3, raw_frame(7, b"q"))
    assert find_resync(tail, 0, known, 1000, True) == (3, True)
    q, found = find_resync(tail, 0, known, 1000, False)
    assert not found and q == 3
    assert find_resync(_buf(b"\x00" * 40), 0, known, 1000, True) == (40, False)
