"""The name matcher built once per registry version and kept on disk."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections import defaultdict
from importlib import resources
from pathlib import Path

import orjson

from tracker.names.match import (
    DEFAULT_FUZZY_THRESHOLD,
    NameMatcher,
)
from tracker.names.places import load_places
from tracker.names.tables import (
    load_country_names,
    load_lookalikes,
)
from tracker.records import collector_paused
from tracker.watchlists import ListEntry, Registry

_CACHE_MAGIC = b"tracker-name-matcher-v4\n"   # v4: tracker.names is a package

#: The shipped tables (``tracker/data``) the matcher is built from: read by
#: :func:`~tracker.names.tables.load_lookalikes`, :func:`~tracker.names.tables.load_country_names`
#: (and :mod:`tracker.names.normalise`) and :func:`~tracker.names.places.load_places`.  The
#: cache key holds their bytes, so a cached matcher is loaded without reading them (the
#: places alone took 0.08 s to load).  A table the package comes to read must be named here
#: (tests/test_names.py checks the package's source against this list).
MATCHER_TABLES = ("country_names.csv", "entry_places.csv", "lookalikes.csv")


def _default_cache_dir() -> Path:
    from tracker.home import names_cache_dir

    return names_cache_dir()


def cached_name_matcher(registry: Registry, *,
                        fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
                        cache_dir: str | Path | None = None) -> NameMatcher:
    """A :class:`NameMatcher` for ``registry``, loaded from a cache when one was built before.

    The cache file is named by a SHA-256 of everything the built matcher depends on: the
    registry's entries, the shipped look-alike, country-name and entry-place tables, the
    threshold and the source of the matcher package (``tracker/names/*.py``). Any change
    makes a new key, so a stale matcher is never used. A file that cannot be read back
    (truncated, corrupt, another Python) is rebuilt and replaced, never trusted. If the
    cache folder cannot be written, the matcher is built and returned anyway. The file is a
    pickle: keep the cache folder writable by you alone (the default under your home is),
    since whoever can write there can run code here.

    Parameters
    ----------
    registry : Registry
    fuzzy_threshold : float
    cache_dir : path, optional
        Default :func:`tracker.home.names_cache_dir`.

    Returns
    -------
    NameMatcher
        Equal in behaviour to ``NameMatcher(registry, fuzzy_threshold=fuzzy_threshold)``.

    Examples
    --------
    >>> import tempfile
    >>> from tracker.watchlists import load_registry
    >>> reg = load_registry()
    >>> with tempfile.TemporaryDirectory() as d:
    ...     a = cached_name_matcher(reg, cache_dir=d)   # builds and stores
    ...     b = cached_name_matcher(reg, cache_dir=d)   # loads
    >>> a.excluded == b.excluded and b.registry is reg
    True
    """
    h = hashlib.sha256(_CACHE_MAGIC)
    for code in sorted(Path(__file__).parent.glob("*.py")):   # the matcher's own code
        h.update(code.name.encode() + b"\0" + code.read_bytes())
    data_dir = resources.files("tracker").joinpath("data")
    for name in MATCHER_TABLES:   # and the tables it is built from, as shipped
        h.update(name.encode() + b"\0" + data_dir.joinpath(name).read_bytes())
    h.update(orjson.dumps([registry.version, registry.entries, float(fuzzy_threshold)],
                          default=_key_value))
    folder = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    path = folder / f"name_matcher_{h.hexdigest()[:32]}.pickle"
    digest = h.digest()
    try:
        data = path.read_bytes()
    except OSError:
        data = b""
    by_id = {e.entry_id: e for e in registry.entries}
    if data[:len(_CACHE_MAGIC) + 32] == _CACHE_MAGIC + digest:
        got = _thaw(data[len(_CACHE_MAGIC) + 32:], registry, by_id)
        if got is not None:
            return got
    nm = NameMatcher(registry, fuzzy_threshold=fuzzy_threshold, lookalikes=load_lookalikes(),
                     country_names=load_country_names(), places=load_places())
    if len(by_id) != len(registry.entries):
        return nm   # entries told apart only by identity: not cached
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as fh:
            fh.write(_CACHE_MAGIC + digest + _freeze(nm))
        os.replace(fh.name, path)   # atomic: a reader never sees a half-written file
    except OSError:
        pass
    return nm


def _freeze(nm: NameMatcher) -> bytes:
    """The matcher's state without the registry: entries are stored by ``entry_id``."""
    state = dict(vars(nm))
    state["registry"] = None
    state["_entries"] = {k: [e.entry_id for e in v] for k, v in nm._entries.items()}
    return pickle.dumps(state, protocol=5)


def _key_value(value: object) -> object:
    """What the cache key's JSON writes for a value orjson does not: a set as its sorted
    members.

    Why JSON: orjson writes the registry's entries (dataclasses) in 0.025 s, where
    ``pickle.dumps`` took 0.094 s, on every run that matches names.

    Examples
    --------
    >>> _key_value(frozenset({"b", "a"}))
    ['a', 'b']
    """
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"not part of a cache key: {type(value).__name__}")


def _thaw(data: bytes, registry: Registry, by_id: dict[str, ListEntry]) -> NameMatcher | None:
    """A matcher from :func:`_freeze` output, or None when the data cannot be trusted.

    Unpickled with the cyclic collector paused: a few hundred thousand new containers,
    none in a cycle (:func:`~tracker.records.collector_paused`)."""
    try:
        with collector_paused():
            state = pickle.loads(data)
        entries: defaultdict[str, list[ListEntry]] = defaultdict(list)
        for k, ids in state["_entries"].items():
            entries[k] = [by_id[i] for i in ids]
    except Exception:  # a corrupt cache is rebuilt, whatever the error
        return None
    nm = NameMatcher.__new__(NameMatcher)
    vars(nm).update(state)
    nm.registry = registry
    nm._entries = entries
    return nm
