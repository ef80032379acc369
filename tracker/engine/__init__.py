"""Screening engines for works files at scale.

:func:`screen_files` runs the screening plan on DuckDB (embedded): the relational work in
SQL, tracker's own matcher and assessment on the works that can hold a tie.  Its findings
are those of :func:`tracker.screening.screen` over the same files.
"""

from __future__ import annotations

from tracker.engine.duck import EngineSettingError, screen_files
from tracker.engine.inputs import InputFile, WorksInputError, expand_inputs, sniff

__all__ = ["ENGINES", "EngineSettingError", "InputFile", "WorksInputError", "expand_inputs",
           "screen_files", "sniff"]

#: Engines a screening run can use: ``duckdb`` (files; the default for file inputs) and
#: ``python`` (tracker.screening.screen over parsed records).
ENGINES = ("duckdb", "python")
