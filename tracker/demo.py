"""The bundled demo data: real OpenAlex works shipped with the package (CC0)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["demo_works_path"]


def demo_works_path() -> Path:
    """Path of the bundled real OpenAlex works used by ``tracker demo``.

    See ``tracker/data/demo/PROVENANCE.md`` for where each record comes from.

    Examples
    --------
    >>> demo_works_path().name
    'works.jsonl.gz'
    """
    return Path(str(resources.files("tracker").joinpath("data/demo/works.jsonl.gz")))
