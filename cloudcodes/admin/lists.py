"""One list component for the console's list pages: search, filters, sort, pages and the CSV export.

A page declares its list once (a ``ListSpec``: the base query, the filter form and what each of its
fields does to the query, the columns with their sort expression and their exported value, the
default order) and gets back a ``Listing`` for its template (``templates/admin/_list.html``) or the
CSV of exactly the rows its filters show.

What comes in the query string is checked, never trusted: a filter value that is not one of the
options falls back to its default (the form says so next to its field), an unknown sort column, a
direction other than asc/desc or a page that is not a page number is replaced by the default and
the page says so. Nothing there reaches the SQL except through the spec's own expressions.

The export is built in memory from one query in the page's order, and capped (``CSV_MAX_ROWS``):
a filter that matches more is refused with a message asking to narrow it, so a file never holds a
silently cut list.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, select

from cloudcodes import clock
from cloudcodes.billing.payouts import csv_cell
from cloudcodes.extensions import db
from cloudcodes.forms import PortalForm

ASC, DESC = "asc", "desc"
CSV_MAX_ROWS = 10_000
PREPARE_CHUNK = 500  # rows prepared together (their levels, revenue, links): one IN list each
MAX_PAGE = 100_000  # beyond any real list; keeps a hostile page number away from the OFFSET


@dataclass(frozen=True)
class Column:
    """A column of the table: its header, how it sorts (``None``: it does not) and its exported value."""

    key: str
    label: str
    value: Callable[[Any], Any]
    sort: Any = None
    # Always ascending after the sort expression, before the tiebreaker (a month, then partners by name).
    then: tuple[Any, ...] = ()
    numeric: bool = False

    @property
    def sortable(self) -> bool:
        return self.sort is not None


@dataclass(frozen=True)
class ListSpec:
    endpoint: str
    csv_endpoint: str
    noun: str  # "partner": "No partners match these filters."
    form: type[PortalForm]
    query: Callable[[], Select[Any]]
    columns: Sequence[Column]
    # A filter field's name -> the condition for its value (None: no condition for that value).
    filters: Mapping[str, Callable[[Any], Any]]
    tiebreak: Sequence[Any]
    default_sort: Callable[[Mapping[str, Any]], tuple[str, bool]]  # the filter values -> (column, descending)
    search: Callable[[str], Any] | None = None
    prepare: Callable[[list[Any]], list[Any]] | None = None  # a page's items -> the rows its table shows
    per_page: int = 25
    filename: str = "list"
    submit_label: str = "Show"
    plural: str = ""

    def column(self, key: str) -> Column | None:
        return next((column for column in self.columns if column.key == key and column.sortable), None)

    @property
    def nouns(self) -> str:
        return self.plural or self.noun + "s"


@dataclass
class ListState:
    """The list asked for, once checked: the form's values, the order and the page."""

    spec: ListSpec
    form: PortalForm
    values: dict[str, Any]
    text: str
    sort: str
    descending: bool
    page: int
    notices: list[str] = field(default_factory=list)

    @property
    def default_order(self) -> tuple[str, bool]:
        return self.spec.default_sort(self.values)

    @property
    def filtered(self) -> bool:
        return bool(self.filter_args())

    def filter_args(self) -> dict[str, str]:
        """The search and filters that differ from their defaults, as the query string carries them."""
        args: dict[str, str] = {}
        for name, form_field in self.form._fields.items():
            if name == "csrf_token":
                continue
            data = form_field.data
            if form_field.type == "BooleanField":
                if data:
                    args[name] = "y"
                continue
            if form_field.type == "DateField":
                if data:
                    args[name] = data.isoformat()
                continue
            text = "" if data is None else str(data).strip()
            default = "" if form_field.default is None else str(form_field.default)
            if text and text != default:
                args[name] = text
        return args

    def args(self, **change: Any) -> dict[str, Any]:
        """The query string of this list (without its page), with ``change`` applied."""
        args: dict[str, Any] = self.filter_args()
        if not self.is_default_order:
            args["sort"] = self.sort
            args["dir"] = DESC if self.descending else ASC
        args.update(change)
        return {name: value for name, value in args.items() if value not in (None, "")}

    def sort_args(self, key: str) -> dict[str, Any]:
        """The link of a column's header: sorted by it, the other way round if it is the sort already."""
        if key == self.sort:
            descending = not self.descending
        else:
            default_key, default_descending = self.default_order
            descending = default_descending if key == default_key else False
        return self.args(sort=key, dir=DESC if descending else ASC)

    @property
    def is_default_order(self) -> bool:
        return (self.sort, self.descending) == self.default_order

    def order_text(self) -> str:
        """How the list is sorted, in words, for the table's caption."""
        column = self.spec.column(self.sort)
        if column is None:
            return ""
        return f"sorted by {column.label.lower()}, {'descending' if self.descending else 'ascending'}"

    def aria_sort(self, key: str) -> str | None:
        if key != self.sort:
            return None
        return "descending" if self.descending else "ascending"


def read_state(spec: ListSpec) -> ListState:
    """The list the query string asks for; every value that is not one the list offers becomes its default."""
    form = spec.form(formdata=request.args)
    form.validate()
    for name in form.errors:
        form[name].data = form[name].default
    values = {name: form_field.data for name, form_field in form._fields.items() if name != "csrf_token"}
    text = (values.get("q") or "").strip() if "q" in values else ""
    notices: list[str] = []

    default_key, default_descending = spec.default_sort(values)
    sort = request.args.get("sort", "")
    if sort and spec.column(sort) is None:
        notices.append(f"The list cannot be sorted by “{sort[:40]}”: it is in its usual order.")
        sort = ""
    direction = request.args.get("dir", "")
    if direction and direction not in (ASC, DESC):
        notices.append(f"“{direction[:40]}” is not a sort direction (asc or desc): the usual one is used.")
        direction = ""
    if not sort:
        sort, descending = default_key, default_descending
        if direction and sort:
            descending = direction == DESC
    else:
        descending = direction == DESC if direction else (default_descending if sort == default_key else False)

    raw_page = request.args.get("page", "")
    page = 1
    if raw_page:
        if raw_page.isascii() and raw_page.isdigit() and raw_page.strip("0"):
            # A number of any length is a page beyond the last one at most (shown as the last page).
            page = MAX_PAGE if len(raw_page) > len(str(MAX_PAGE)) else min(int(raw_page), MAX_PAGE)
        else:
            notices.append(f"“{raw_page[:40]}” is not a page number: this is the first page.")
    return ListState(spec, form, values, text, sort, descending, page, notices)


def _ordered(state: ListState) -> Select[Any]:
    spec = state.spec
    query = spec.query()
    for name, condition_for in spec.filters.items():
        condition = condition_for(state.values.get(name))
        if condition is not None:
            query = query.where(condition)
    if state.text and spec.search is not None:
        query = query.where(spec.search(state.text))
    column = spec.column(state.sort)
    order: list[Any] = []
    if column is not None:
        order.append(column.sort.desc() if state.descending else column.sort.asc())
        order.extend(expression.asc() for expression in column.then)
    order.extend(expression.desc() if state.descending else expression.asc() for expression in spec.tiebreak)
    return query.order_by(*order)


@dataclass
class Listing:
    """What a list page renders: its state, the page of rows and the spec's columns."""

    spec: ListSpec
    state: ListState
    page: Pagination
    rows: list[Any]

    @property
    def columns(self) -> Sequence[Column]:
        return self.spec.columns

    @property
    def notices(self) -> list[str]:
        return self.state.notices

    @property
    def filtered(self) -> bool:
        return self.state.filtered

    def page_args(self) -> dict[str, Any]:
        return self.state.args()


def _prepare(spec: ListSpec, items: list[Any]) -> list[Any]:
    if spec.prepare is None:
        return items
    rows: list[Any] = []
    for start in range(0, len(items), PREPARE_CHUNK):
        rows.extend(spec.prepare(items[start : start + PREPARE_CHUNK]))
    return rows


def listing(spec: ListSpec, state: ListState | None = None) -> Listing:
    """The page of the list the request asks for (the last one if it asks for a page beyond it)."""
    state = state or read_state(spec)
    query = _ordered(state)
    page = db.paginate(query, page=state.page, per_page=spec.per_page, error_out=False)
    if page.pages and state.page > page.pages:
        state.notices.append(f"There is no page {state.page}: this is the last page, page {page.pages}.")
        state.page = page.pages
        page = db.paginate(query, page=page.pages, per_page=spec.per_page, error_out=False)
    return Listing(spec, state, page, _prepare(spec, list(page.items)))


def csv_export(spec: ListSpec) -> Response:
    """The CSV of every row the list's filters show, in the list's order, with its columns."""
    state = read_state(spec)
    query = _ordered(state)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if total > CSV_MAX_ROWS:
        flash(
            f"These filters show {total:,} {spec.nouns}; a CSV holds at most {CSV_MAX_ROWS:,}. "
            "Narrow the filters (a search, a status or a date range) and download again.",
            "warning",
        )
        return redirect(url_for(spec.endpoint, **state.args()), 303)  # type: ignore[return-value]
    rows = _prepare(spec, list(db.session.scalars(query).unique()))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(column.label) for column in spec.columns])
    for row in rows:
        writer.writerow([csv_cell(column.value(row)) for column in spec.columns])
    filename = f"cloudcodes-{spec.filename}-{clock.today().isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
