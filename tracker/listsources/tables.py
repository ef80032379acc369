"""HTML tables as rows of cell text (stdlib ``html.parser``), with the text just before
each table (the heading that says which statutory list it is)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["HtmlTable", "read_tables"]

_WS = re.compile(r"\s+")


@dataclass(slots=True)
class HtmlTable:
    before: str  # text between the previous table (or the page start) and this one
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[HtmlTable] = []
        self.text: list[str] = []
        self.depth = 0
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.in_head = False
        self.is_th = False
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "table":
            self.depth += 1
            if self.depth == 1:
                self.tables.append(HtmlTable(before=_WS.sub(" ", " ".join(self.text)).strip()))
                self.text = []
        elif tag == "tr" and self.depth:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
            self.is_th = tag == "th"
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag == "table" and self.depth:
            self.depth -= 1
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(_WS.sub(" ", "".join(self.cell)).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None and self.tables:
            t = self.tables[-1]
            if self.is_th and not t.header:
                t.header = self.row
            elif any(self.row):
                t.rows.append(self.row)
            self.row = None
            self.is_th = False

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.cell is not None:
            self.cell.append(data)
        elif not self.depth:
            self.text.append(data)


def read_tables(html: str) -> tuple[list[HtmlTable], str]:
    """The page's top-level tables and the text after the last one.

    Examples
    --------
    >>> ts, _ = read_tables("<p>A</p><table><tr><th>x</th></tr><tr><td>1</td></tr></table>")
    >>> (ts[0].before, ts[0].header, ts[0].rows)
    ('A', ['x'], [['1']])
    """
    p = _Tables()
    p.feed(html)
    p.close()
    return p.tables, _WS.sub(" ", " ".join(p.text)).strip()
