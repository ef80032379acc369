"""Read CSV files as people save them: UTF-8, Excel's cp1252 or UTF-16, comma or semicolon.

Excel saves "CSV" in the system's code page (cp1252 in Western Europe and the Americas),
"Unicode text" as UTF-16 with tabs, and uses ``;`` as the delimiter where the decimal
separator is a comma.  :func:`read_csv_text` finds the encoding and the delimiter, so a
roster or watchlist works however it was saved.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> p = Path(tempfile.mkdtemp()) / "roster.csv"
>>> _ = p.write_bytes("name;department\\nJos\\u00e9 M\\u00fcller;Physik\\n".encode("cp1252"))
>>> t = read_csv_text(p)
>>> t.encoding, t.delimiter, t.rows()
('cp1252', ';', [['name', 'department'], ['José Müller', 'Physik']])
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CsvText", "CsvUnreadable", "read_csv_text"]

#: Delimiters we accept, in order of preference when a header line has several.
DELIMITERS = (",", ";", "\t", "|")


class CsvUnreadable(ValueError):
    """The file is not text in any encoding tried (UTF-8, UTF-16, cp1252)."""


@dataclass(frozen=True)
class CsvText:
    """A CSV file's text with the encoding and delimiter it was found to use."""

    text: str
    encoding: str
    delimiter: str

    def rows(self) -> list[list[str]]:
        """Every row, parsed with the detected delimiter."""
        return list(csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter))

    def split(self, line: str) -> list[str]:
        """One line's fields, parsed with the detected delimiter."""
        return next(csv.reader([line], delimiter=self.delimiter), [])


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    if len(data) >= 4 and data[1::2][:8].count(0) >= 2 and b"\x00" in data[1:8:2]:
        return data.decode("utf-16-le"), "utf-16-le"  # UTF-16 without a byte order mark
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:  # cp1252 leaves five bytes undefined: a file with those is not cp1252 either
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise CsvUnreadable("not text in UTF-8, UTF-16 or Windows-1252 (cp1252); save it "
                            "as 'CSV UTF-8' and try again") from None


def _delimiter(text: str) -> str:
    """The delimiter of the first non-comment line: the accepted one it holds most of."""
    header = next((ln for ln in text.splitlines()
                   if ln.strip() and not ln.lstrip().startswith("#")), "")
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties: the earlier one
    return best if counts[best] else ","


def read_csv_text(path: str | Path) -> CsvText:
    """Read a CSV file whatever Excel saved it as.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    CsvText
        The text (byte order mark removed), its encoding and delimiter.

    Raises
    ------
    OSError
        The file cannot be read.
    CsvUnreadable
        The bytes are not text in any of the encodings tried.
    """
    data = Path(path).read_bytes()
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
            and not (len(data) >= 2 and data[1] == 0):
        raise CsvUnreadable("a binary file, not CSV text (an .xlsx workbook? save it as CSV)")
    text, encoding = _decode(data)
    return CsvText(text, encoding, _delimiter(text))
