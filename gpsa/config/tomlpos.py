"""Line numbers of keys in TOML text (``tomllib`` gives values, not positions).

:func:`key_lines` scans the text once and maps every table header and key to the line where it
first appears, as a path: ``[run] device`` is ``("run", "device")``, ``device`` in the second
``[[stage]]`` is ``("stage", 1, "device")``, ``[crystal.00A.psa] basis`` is
``("crystal", "00A", "psa", "basis")``; dotted and quoted keys are split like TOML does.
Values are skipped with their strings, multi-line strings, arrays and inline tables, so a
``key = value`` inside them is never taken for a key. Keys *inside* an inline table are not
mapped: :func:`line_of` then gives the line of the longest mapped prefix (the inline table's own
key), which is the right line when the inline table is on one line.

It assumes valid TOML (``tomllib`` has read the file first) and counts array-of-table entries per
header path only, which is exact for ``[[stage]]``; nested arrays of tables are not numbered per
parent.
"""

from __future__ import annotations

from pathlib import Path

KeyPath = tuple[str | int, ...]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def line_of(path: Path, key_path: KeyPath) -> int | None:
    """Line (1-based) of ``key_path`` in the TOML file ``path``, or of its longest prefix found;
    None if the file cannot be read or nothing matches."""
    try:
        lines = key_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        return None
    for n in range(len(key_path), 0, -1):
        if key_path[:n] in lines:
            return lines[key_path[:n]]
    return None


def key_lines(text: str) -> dict[KeyPath, int]:
    """Every table header and key of ``text`` → the line of its first appearance."""
    out: dict[KeyPath, int] = {}
    arrays: dict[tuple[str, ...], int] = {}  # array-of-tables header → entries so far
    table: KeyPath = ()
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "#":
            i = _line_end(text, i)
        elif c == "[":
            aot = text.startswith("[[", i)
            parts, i = _key(text, i + (2 if aot else 1))
            i = text.index("]", i) + (2 if aot else 1)
            table = _expand(parts, arrays, aot)
            out.setdefault(table, line)
        else:
            parts, i = _key(text, i)
            out.setdefault(table + tuple(parts), line)
            i = text.index("=", i) + 1
            i, line = _skip_value(text, i, line)
    return out


def _expand(parts: list[str], arrays: dict[tuple[str, ...], int], aot: bool) -> KeyPath:
    """Header path with the current entry index after every array-of-tables prefix."""
    full = tuple(parts)
    if aot:
        arrays[full] = arrays.get(full, 0) + 1
    path: list[str | int] = []
    for j in range(len(parts)):
        path.append(parts[j])
        prefix = full[:j + 1]
        if prefix in arrays:
            path.append(arrays[prefix] - 1)
    return tuple(path)


def _line_end(text: str, i: int) -> int:
    j = text.find("\n", i)
    return len(text) if j < 0 else j


def _key(text: str, i: int) -> tuple[list[str], int]:
    """A (dotted) key starting at ``i``: its parts and the index after it."""
    parts: list[str] = []
    while True:
        while text[i] in " \t":
            i += 1
        if text[i] in "\"'":
            q = text[i]
            j = i + 1
            buf = []
            while text[j] != q:
                if q == '"' and text[j] == "\\":
                    buf.append(text[j:j + 2].encode().decode("unicode_escape"))
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            parts.append("".join(buf))
            i = j + 1
        else:
            j = i
            while j < len(text) and text[j] in _BARE:
                j += 1
            parts.append(text[i:j])
            i = j
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == ".":
            i += 1
            continue
        return parts, i


def _skip_value(text: str, i: int, line: int) -> tuple[int, int]:
    """Index after the value starting at ``i`` (its line ends outside brackets) and the line
    number there."""
    depth, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            if depth == 0:
                return i, line
            line += 1
            i += 1
        elif c == "#":
            i = _line_end(text, i)
        elif c in "[{":
            depth += 1
            i += 1
        elif c in "]}":
            depth -= 1
            i += 1
        elif c in "\"'":
            i, line = _skip_string(text, i, line)
        else:
            i += 1
    return i, line


def _skip_string(text: str, i: int, line: int) -> tuple[int, int]:
    q = text[i]
    delim = q * 3 if text.startswith(q * 3, i) else q
    j = i + len(delim)
    while not text.startswith(delim, j):
        if q == '"' and text[j] == "\\":
            j += 1
        if text[j] == "\n":
            line += 1
        j += 1
    j += len(delim)
    while delim != q and text.startswith(q, j):  # up to two quotes may close a multi-line string
        j += 1
    return j, line
