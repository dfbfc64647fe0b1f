"""Crystal names ``NNL`` ↔ crystal ids: ``id = 3·NN + {A: 0, B: 1, C: 2}``.

``NN`` is the (two-digit) cluster number, ``L`` the crystal shape letter within the triple
cluster. With 60 clusters the ids run 0..179
(``00A`` = 0, ``00B`` = 1, ``14C`` = 44, ``59C`` = 179).
"""

from __future__ import annotations

import re

from gpsa.errors import ConfigError

SHAPE_LETTERS = "ABC"
N_CLUSTERS = 60
_NAME = re.compile(r"^(\d{2})([ABC])$")


def crystal_id(name: str, n_clusters: int = N_CLUSTERS) -> int:
    """Id of crystal ``name`` (e.g. ``"14C"`` → 44); lower-case letters are accepted."""
    m = _NAME.match(str(name).strip().upper())
    if not m:
        raise ConfigError(f"crystal name {name!r} is not of the form NNL (two-digit cluster "
                          f"number and shape letter A, B or C, e.g. 00A)")
    cluster = int(m.group(1))
    if cluster >= n_clusters:
        raise ConfigError(f"crystal name {name!r}: cluster {cluster} outside "
                          f"00..{n_clusters - 1:02d}")
    return 3 * cluster + SHAPE_LETTERS.index(m.group(2))


def crystal_name(cid: int, n_clusters: int = N_CLUSTERS) -> str:
    """Name of crystal id ``cid`` (e.g. 44 → ``"14C"``)."""
    if isinstance(cid, bool) or int(cid) != cid or not 0 <= cid < 3 * n_clusters:
        raise ConfigError(f"crystal id {cid!r} outside 0..{3 * n_clusters - 1}")
    cluster, shape = divmod(int(cid), 3)
    return f"{cluster:02d}{SHAPE_LETTERS[shape]}"


def shape_letter(cid: int) -> str:
    """Shape letter ``"A"``, ``"B"`` or ``"C"`` of crystal id ``cid``."""
    if isinstance(cid, bool) or int(cid) != cid or cid < 0:
        raise ConfigError(f"crystal id {cid!r} must be a non-negative integer")
    return SHAPE_LETTERS[int(cid) % 3]


def parse_crystal(text: str, n_clusters: int = N_CLUSTERS) -> int:
    """A crystal given as a name (``"00A"``) or a plain id (``"0"``, ``"179"``) → id."""
    t = str(text).strip()
    if t.isdigit():
        cid = int(t)
        crystal_name(cid, n_clusters)  # validates
        return cid
    return crystal_id(t, n_clusters)
