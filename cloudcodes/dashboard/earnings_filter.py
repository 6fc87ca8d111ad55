"""The earnings page's filter: period, product, customer domain, referral code and kind of entry.

One GET form filters both tables of ``/dashboard/earnings`` and both of its CSV downloads, so a
download holds exactly the rows the filtered page lists (all its pages). A value that is not one
the filter can use (a day that is not a date, a range that ends before it starts, a domain or code
that cannot be one) is named next to its field and left out of the filter; the others still apply.

The purchases are filtered by the day they were bought, the ledger entries by the day they count
for (a refund's entry by the refund's day). The kind filters the ledger and, in the purchases
table, keeps the purchases that have an entry of that kind (a refund, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import exists, select
from werkzeug.datastructures import MultiDict
from wtforms import SelectField, StringField
from wtforms.fields import DateField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from cloudcodes.billing.models import LedgerEntry, Product, Purchase
from cloudcodes.billing.payouts import ENTRY_KIND_LABELS, EntryKind, entries_of_kind
from cloudcodes.billing.periods import PERIOD_LABELS, DateRange, Period, period_range
from cloudcodes.clock import start_of_day
from cloudcodes.extensions import db
from cloudcodes.forms import PortalForm
from cloudcodes.referrals.codes import CodeError, parse_code
from cloudcodes.referrals.domains import DomainError, display_domain, normalise_domain
from cloudcodes.referrals.models import ReferralCode

NOT_A_DAY = "Enter a day as year, month and day (2027-03-01), or pick one."


class DayField(DateField):
    """A date field whose refusal says what to type."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(NOT_A_DAY) from error


class EarningsFilterForm(PortalForm):
    """Read from the query string (GET), so no CSRF token: it changes nothing."""

    class Meta:
        csrf = False

    period = SelectField(
        "Period",
        choices=[SelectChoice(period.value, PERIOD_LABELS[period]) for period in Period],
        default=Period.ALL.value,
        validate_choice=False,
    )
    since = DayField("From", validators=[Optional()], description="For days you choose; the first day included.")
    until = DayField("To", validators=[Optional()], description="The last day included.")
    product = SelectField("Product", default="", validate_choice=False)
    domain = StringField(
        "Customer domain",
        validators=[Optional(), Length(max=300, message="A domain is at most 253 characters.")],
        description="One customer's domain, such as acme.com.",
    )
    code = StringField(
        "Referral code",
        validators=[Optional(), Length(max=60, message="A referral code is 17 characters, such as CC-7K3Q-9M2P-XW43.")],
    )
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice("", "All kinds"),
            *(SelectChoice(kind.value, ENTRY_KIND_LABELS[kind]) for kind in EntryKind),
        ],
        default="",
        validate_choice=False,
        description="Of ledger entries; purchases with an entry of this kind.",
    )


@dataclass
class EarningsFilter:
    """The filter the query string asks for, each value checked; ``form`` shows it with its refusals."""

    form: EarningsFilterForm
    period: Period = Period.ALL
    days: DateRange = field(default_factory=DateRange)
    product_id: int | None = None
    domain: str | None = None  # ASCII, as stored
    code: str | None = None  # canonical
    kind: EntryKind | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.args())

    def args(self) -> dict[str, str]:
        """The query string of the filter, without the values it refused."""
        args: dict[str, str] = {}
        if self.period != Period.ALL:
            args["period"] = self.period.value
        if self.period == Period.CUSTOM:
            if self.days.first:
                args["since"] = self.days.first.isoformat()
            if self.days.last:
                args["until"] = self.days.last.isoformat()
        if self.product_id is not None:
            args["product"] = str(self.product_id)
        if self.domain:
            args["domain"] = display_domain(self.domain)
        if self.code:
            args["code"] = self.code
        if self.kind is not None:
            args["kind"] = self.kind.value
        return args

    # --- What the filter does to each table's query ---------------------------------------------

    def _subject(self, partner_id: int) -> list[Any]:
        """What the purchase is of: its product, its customer's domain, its code."""
        conditions: list[Any] = []
        if self.product_id is not None:
            conditions.append(Purchase.product_id == self.product_id)
        if self.domain is not None:
            conditions.append(Purchase.customer_domain == self.domain)
        if self.code is not None:
            conditions.append(
                Purchase.referral_code_id.in_(
                    select(ReferralCode.id).where(ReferralCode.code == self.code, ReferralCode.partner_id == partner_id)
                )
            )
        return conditions

    def purchase_conditions(self, partner_id: int) -> list[Any]:
        conditions: list[Any] = [Purchase.partner_id == partner_id, *self._subject(partner_id)]
        if self.days.first is not None:
            conditions.append(Purchase.purchased_at >= start_of_day(self.days.first))
        if self.days.end_exclusive is not None:
            conditions.append(Purchase.purchased_at < start_of_day(self.days.end_exclusive))
        if self.kind is not None:
            conditions.append(
                exists().where(
                    LedgerEntry.purchase_id == Purchase.id,
                    LedgerEntry.partner_id == partner_id,
                    entries_of_kind(self.kind),
                )
            )
        return conditions

    def ledger_conditions(self, partner_id: int) -> list[Any]:
        conditions: list[Any] = [LedgerEntry.partner_id == partner_id]
        if self.days.first is not None:
            conditions.append(LedgerEntry.effective_on >= self.days.first)
        if self.days.last is not None:
            conditions.append(LedgerEntry.effective_on <= self.days.last)
        if self.kind is not None:
            conditions.append(entries_of_kind(self.kind))
        subject = self._subject(partner_id)
        if subject:
            # Payouts and adjustments belong to no purchase: a purchase filter leaves them out.
            purchases = select(Purchase.id).where(Purchase.partner_id == partner_id, *subject)
            conditions.append(LedgerEntry.purchase_id.in_(purchases))
        return conditions


def product_choices() -> list[SelectChoice]:
    """Every product, active or not: a partner's past purchases may be of one no longer sold."""
    products = db.session.execute(select(Product.id, Product.name).order_by(Product.name, Product.id)).all()
    return [SelectChoice("", "All products"), *(SelectChoice(str(pid), name) for pid, name in products)]


def read_filter(args: MultiDict[str, str], today: date) -> EarningsFilter:
    """The filter ``args`` (a query string) asks for, as of ``today``."""
    form = EarningsFilterForm(formdata=args)
    form.product.choices = product_choices()
    form.validate()
    found = EarningsFilter(form=form)

    period_text = form.period.data or ""
    if period_text in {period.value for period in Period}:
        found.period = Period(period_text)
    else:
        form.period.errors.append("Choose a period from the list.")
        form.period.data = Period.ALL.value
    since = form.since.data if not form.since.errors else None
    until = form.until.data if not form.until.errors else None
    if since is not None and until is not None and until < since:
        form.until.errors.append("The last day is before the first: choose a later day, or swap them.")
        until = None
    if since is not None or until is not None:
        # Days typed are the period, whatever the list says.
        found.period = Period.CUSTOM
        form.period.data = Period.CUSTOM.value
    found.days = period_range(found.period, today, since, until)

    product_text = form.product.data or ""
    if product_text:
        known = {choice.value for choice in form.product.choices}
        if product_text in known:
            found.product_id = int(product_text)
        else:
            form.product.errors.append("Choose a product from the list.")
            form.product.data = ""

    domain_text = (form.domain.data or "").strip()
    if domain_text and not form.domain.errors:
        try:
            found.domain = normalise_domain(domain_text)
        except DomainError as error:
            form.domain.errors.append(str(error))

    code_text = (form.code.data or "").strip()
    if code_text and not form.code.errors:
        try:
            found.code = parse_code(code_text)
        except CodeError as error:
            form.code.errors.append(str(error).replace("your partner gave you", "you gave your customer"))

    kind_text = form.kind.data or ""
    if kind_text:
        if kind_text in {kind.value for kind in EntryKind}:
            found.kind = EntryKind(kind_text)
        else:
            form.kind.errors.append("Choose a kind from the list.")
            form.kind.data = ""
    return found
