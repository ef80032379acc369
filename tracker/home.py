"""Where tracker keeps its files: one answer for every module.

``TRACKER_HOME``, when set, holds everything: the case file, the caches, the resolved
OpenAlex IDs and the confirmed roster profiles.  Without it, what must be kept (the case
file, confirmed profiles, resolved IDs) goes under the XDG data folder
(``~/.local/share/tracker``) and what can be rebuilt (HTTP answers, checkpoints, the name
matcher) under the XDG cache folder (``~/.cache/tracker``).

Examples
--------
>>> import os
>>> os.environ["TRACKER_HOME"] = "/srv/tracker"
>>> str(case_file_path()), str(cache_dir()), str(names_cache_dir())
('/srv/tracker/tracker.db', '/srv/tracker/cache', '/srv/tracker/cache')
>>> del os.environ["TRACKER_HOME"]
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "case_file_path", "confirmed_profiles_path", "data_dir",
           "names_cache_dir", "resolved_ids_path", "tracker_home"]


def tracker_home() -> Path | None:
    """``$TRACKER_HOME`` as a path, or None when it is not set (or empty)."""
    home = os.environ.get("TRACKER_HOME", "").strip()
    return Path(home).expanduser() if home else None


def data_dir() -> Path:
    """Files worth keeping: ``$TRACKER_HOME``, else ``$XDG_DATA_HOME/tracker`` (default
    ``~/.local/share/tracker``)."""
    home = tracker_home()
    if home is not None:
        return home
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "tracker"


def cache_dir() -> Path:
    """Files that can be rebuilt: ``$TRACKER_HOME/cache``, else ``$XDG_CACHE_HOME/tracker``
    (default ``~/.cache/tracker``)."""
    home = tracker_home()
    if home is not None:
        return home / "cache"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tracker"


def case_file_path() -> Path:
    """The case-file database: runs, findings and review decisions."""
    return data_dir() / "tracker.db"


def resolved_ids_path() -> Path:
    """OpenAlex IDs learnt for list entries by ``tracker lists resolve``."""
    return data_dir() / "resolved_openalex_ids.json"


def confirmed_profiles_path() -> Path:
    """Author profiles confirmed for roster people (``--confirm``)."""
    return data_dir() / "confirmed_profiles.json"


def names_cache_dir() -> Path:
    """The built name matcher (a cache: rebuilt when missing)."""
    return cache_dir()
