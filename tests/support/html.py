"""Reading what a page shows, with the standard library's HTML parser: a table's cells, an element's text."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser


class _TableReader(HTMLParser):
    """The text of each cell (``td`` and ``th``) of the body rows of the table with ``table_id``."""

    def __init__(self, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id = table_id
        self.depth = 0  # >0 while inside the table
        self.in_body = False
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None
        self.found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            if self.depth:
                self.depth += 1
            elif dict(attrs).get("id") == self.table_id:
                self.depth, self.found = 1, True
            return
        if not self.depth:
            return
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.rows.append([])
        elif tag in ("td", "th") and self.in_body:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if not self.depth:
            return
        if tag == "table":
            self.depth -= 1
        elif tag == "tbody":
            self.in_body = False
        elif tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(re.sub(r"\s+", " ", "".join(self.cell)).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_cells(page: str, table_id: str) -> list[list[str]]:
    """The body rows of the table ``#table_id`` of ``page``, each as the text of its cells."""
    reader = _TableReader(table_id)
    reader.feed(page)
    assert reader.found, f"no table #{table_id} on the page"
    return reader.rows


def attribute_of(page: str, element_id: str, attribute: str) -> str:
    """The value of ``attribute`` of the element ``#element_id``."""
    tag = re.search(rf'<[a-z]+[^>]*\bid="{re.escape(element_id)}"[^>]*>', page)
    assert tag, f"no #{element_id} on the page"
    value = re.search(rf'\b{attribute}="([^"]*)"', tag.group(0))
    assert value, f"#{element_id} has no {attribute}"
    return unescape(value.group(1))
