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

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["cache_dir", "case_file_path", "confirmed_profiles_path", "data_dir",
           "names_cache_dir", "owned_temp_dir", "owner_ended", "owner_record", "process_alive",
           "remove_stale_dirs", "remove_stale_temp_dirs", "resolved_ids_path", "tracker_home"]

#: Inside a temporary folder of :func:`owned_temp_dir`: the process using it.
TEMP_OWNER = "owner.json"


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


def process_alive(pid: int) -> bool:
    """Is process ``pid`` running on this machine?  True when it cannot be told (another
    user's process), so that nothing of a running process is ever removed."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists (another user's), or cannot tell: leave it
    return True


@contextlib.contextmanager
def owned_temp_dir(prefix: str, parent: str | Path | None = None) -> Iterator[Path]:
    """A temporary folder (as :class:`tempfile.TemporaryDirectory`) that names the process
    using it, so that a later run can remove it should this process be killed before it
    could (:func:`remove_stale_temp_dirs`, called here first for ``prefix``): a screening
    engine's folder holds tens of GB at ten million works.

    Examples
    --------
    >>> with owned_temp_dir("tracker-doc-") as d:
    ...     (d / TEMP_OWNER).is_file()
    True
    >>> d.exists()
    False
    """
    remove_stale_temp_dirs(prefix, parent)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as tmp:
        (Path(tmp) / TEMP_OWNER).write_text(json.dumps(owner_record()), "utf-8")
        yield Path(tmp)


def owner_record() -> dict[str, object]:
    """Who uses a folder: this process, this machine, since when (see :func:`owner_ended`)."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}


def owner_ended(owner: object) -> bool:
    """Has the process of an :func:`owner_record` ended on this machine?  False for another
    machine's, this process's, or a record that is not one."""
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return False
    pid = owner.get("pid")
    return isinstance(pid, int) and pid != os.getpid() and not process_alive(pid)


def remove_stale_temp_dirs(prefix: str, parent: str | Path | None = None) -> list[Path]:
    """Remove the folders of :func:`owned_temp_dir` named ``prefix*`` in ``parent`` (the
    system's temporary folder by default) whose process has ended on this machine.  A
    folder without an owner, or another machine's, is left alone.

    Examples
    --------
    >>> d = Path(tempfile.mkdtemp())
    >>> left = d / "tracker-doc-abc"; left.mkdir()
    >>> _ = (left / TEMP_OWNER).write_text('{"pid": 999999999, "host": "%s"}'
    ...                                    % socket.gethostname())
    >>> [p.name for p in remove_stale_temp_dirs("tracker-doc-", d)], left.exists()
    (['tracker-doc-abc'], False)
    """
    folder = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    return remove_stale_dirs(folder, prefix, _owner_gone)


def _owner_gone(path: Path) -> bool:
    """Has the process named in ``path``'s owner file ended on this machine?"""
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        owner = json.loads((path / TEMP_OWNER).read_text("utf-8"))
    except (OSError, ValueError):
        return False  # no owner: not ours to judge
    return owner_ended(owner)


def remove_stale_dirs(folder: Path, prefix: str,
                      is_stale: Callable[[Path], bool]) -> list[Path]:
    """Remove each folder named ``prefix*`` in ``folder`` that ``is_stale`` says no running
    process will use again (one it cannot look at is left); return those removed."""
    removed: list[Path] = []
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for p in candidates:
        try:
            stale = is_stale(p)
        except OSError:
            continue
        if stale:
            shutil.rmtree(p, ignore_errors=True)
            if not p.exists():
                removed.append(p)
    return removed
