"""The admin's form for the program settings (``/admin/settings``).

The form checks that each value is a number, an amount or an address at all, and keeps within what
the columns hold (two decimals, tier points 0 to 100, which the service does not check); whether the
values make a program (margins from 0 to 100, Premier not below Reseller, distinct tiers...) is
``update_program_terms``'s call, which names the field it refuses.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from wtforms import (
    BooleanField,
    DecimalField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    StringField,
)
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional, ValidationError

from cloudcodes import formatting
from cloudcodes.forms import PortalForm
from cloudcodes.money import Money, MoneyError
from cloudcodes.program.services import describe, snapshot
from cloudcodes.program.terms import ProgramTerms, VolumeTier, format_percent
from cloudcodes.services import ServiceError

MAX_TIERS = 5
MAX_COMMITMENT = Money(1_000_000_000_00, "USD").to_decimal()  # a sanity bound, far above any real commitment


def two_decimals(form: Form, field: DecimalField) -> None:
    """The database keeps percentages to the hundredth; refuse more rather than round silently."""
    value = field.data
    if value is None:
        return
    if not value.is_finite():
        raise ValidationError("Enter a number, such as 30 or 12.5.")
    # Beyond a million the value is refused as out of range anyway (and quantize would overflow).
    if abs(value) < 1_000_000 and value != value.quantize(Decimal("0.01")):
        raise ValidationError("Use at most two decimals, such as 12.25.")


def _percent_field(label: str, description: str = "") -> DecimalField:
    return DecimalField(
        label,
        places=None,  # shown as typed: 30 or 12.5, not 30.00
        validators=[InputRequired("Enter a percentage, such as 30."), two_decimals],
        description=description,
    )


def _days_field(label: str, description: str) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            InputRequired("Enter a whole number of days."),
            NumberRange(max=36_500, message="Enter at most 36,500 days (100 years)."),
        ],
        description=description,
    )


def _count_field(label: str, description: str) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            InputRequired("Enter a whole number."),
            NumberRange(min=1, max=100_000, message="Enter a whole number from 1 to 100,000."),
        ],
        description=description,
    )


class TierForm(Form):
    """One volume tier row; a row left empty is not a tier."""

    min_seats = IntegerField(
        "From seats",
        validators=[Optional(), NumberRange(max=10_000_000, message="Enter at most 10,000,000 seats.")],
    )
    extra_points = DecimalField("Extra margin points", places=None, validators=[Optional(), two_decimals])

    def is_empty(self) -> bool:
        return self.min_seats.data is None and self.extra_points.data is None

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.extra_points.data is None and self.min_seats.data is not None:
            self.extra_points.errors.append("Enter the extra points for this tier, or empty the row.")
            return False
        if self.min_seats.data is None and self.extra_points.data is not None:
            self.min_seats.errors.append("Enter the seat count for this tier, or empty the row.")
            return False
        points = self.extra_points.data
        if points is not None and not Decimal(0) <= points <= Decimal(100):
            self.extra_points.errors.append("Extra points are between 0 and 100.")
            return False
        return True


class ProgramSettingsForm(PortalForm):
    reseller_margin_pct = _percent_field("Reseller margin (%)")
    premier_margin_pct = _percent_field("Premier margin (%)", "Not lower than the Reseller margin.")
    premier_revenue_commitment = StringField(
        "Premier revenue commitment",
        validators=[InputRequired("Enter the yearly revenue commitment, such as 25000.00."), Length(max=30)],
        description="Net attributed revenue per calendar year, for example 25000.00.",
    )
    premier_trained_sales_staff = IntegerField(
        "Premier trained sales staff",
        validators=[
            InputRequired("Enter a whole number of people."),
            NumberRange(max=100_000, message="Enter at most 100,000."),
        ],
        description="People on the partner's sales staff trained on CloudCodes.",
    )
    registration_lifetime_days = _days_field(
        "Registration lifetime (days)", "How long a domain registration and its referral codes last."
    )
    commission_hold_days = _days_field(
        "Commission hold (days)", "Days after a purchase before its commission can be paid out."
    )
    reseller_registration_cap = _count_field(
        "Reseller: active registrations at most", "Customer domains a Reseller partner may hold at once."
    )
    premier_registration_cap = _count_field(
        "Premier: active registrations at most", "Customer domains a Premier partner may hold at once."
    )
    claim_decision_working_days = _count_field(
        "Working days to decide a claim", "Monday to Friday; the holder's manager decides a claim on its domain."
    )
    contact_email = EmailField(
        "Partner team's contact e-mail",
        validators=[
            InputRequired("Enter the partner team's e-mail address."),
            Email("Enter a valid e-mail address, such as partners@example.com."),
            Length(max=254),
        ],
        description="Shown on the public pages and in the FAQ.",
    )
    volume_tiers = FieldList(FormField(TierForm), min_entries=0, max_entries=MAX_TIERS)
    # The settings as the page showed them: a save applies only what this admin changed from these,
    # so another admin's save in the meantime is neither undone nor silently overwritten.
    shown_values = HiddenField()
    confirm = BooleanField("Yes, apply these settings to every purchase from now on")

    def show_service_error(self, error: ServiceError) -> bool:
        """The volume tiers are rows, not one field: their refusal goes above the table."""
        if error.field != "volume_tiers":
            return False
        self.tier_errors.append(error.message)
        return True

    def __init__(self, *args: Any, currency: str = "USD", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.premier_revenue_commitment.label.text = f"Premier revenue commitment ({currency})"
        # A refusal of the tiers as a whole (two with the same seats) is shown above the rows.
        self.tier_errors: list[str] = []

    @classmethod
    def showing(cls, terms: ProgramTerms, **kwargs: Any) -> ProgramSettingsForm:
        """The form filled with the terms in force, and a spare empty row for a new tier."""
        form = cls(formdata=None, currency=terms.currency, **kwargs)
        form.reseller_margin_pct.data = Decimal(format_percent(terms.reseller_margin_pct))
        form.premier_margin_pct.data = Decimal(format_percent(terms.premier_margin_pct))
        form.premier_revenue_commitment.data = str(terms.premier_revenue_commitment.to_decimal())
        form.premier_trained_sales_staff.data = terms.premier_trained_sales_staff
        form.registration_lifetime_days.data = terms.registration_lifetime_days
        form.commission_hold_days.data = terms.commission_hold_days
        form.reseller_registration_cap.data = terms.reseller_registration_cap
        form.premier_registration_cap.data = terms.premier_registration_cap
        form.claim_decision_working_days.data = terms.claim_decision_working_days
        form.contact_email.data = terms.contact_email
        for tier in terms.volume_tiers[:MAX_TIERS]:
            form.volume_tiers.append_entry(
                {"min_seats": tier.min_seats, "extra_points": Decimal(format_percent(tier.extra_points))}
            )
        form.shown_values.data = shown_json(terms)
        form.add_spare_tier_row()
        return form

    def add_spare_tier_row(self) -> None:
        if len(self.volume_tiers.entries) < MAX_TIERS and not any(
            entry.form.is_empty() for entry in self.volume_tiers.entries
        ):
            self.volume_tiers.append_entry()

    def label_tier_rows(self) -> None:
        """Each row's fields say which tier they belong to, for people who cannot see the layout."""
        for number, entry in enumerate(self.volume_tiers.entries, start=1):
            entry.form.min_seats.label.text = f"Tier {number}: from seats"
            entry.form.extra_points.label.text = f"Tier {number}: extra margin points"

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.premier_revenue_commitment.data and not self.premier_revenue_commitment.errors:
            try:
                amount = Money.parse(self.premier_revenue_commitment.data, self.currency)
            except MoneyError as error:
                self.premier_revenue_commitment.errors.append(str(error))
                valid = False
            else:
                if abs(amount.to_decimal()) > MAX_COMMITMENT:
                    self.premier_revenue_commitment.errors.append("Enter an amount up to 1,000,000,000.00.")
                    valid = False
        return valid

    def tiers(self) -> tuple[VolumeTier, ...]:
        """The rows filled in, by seat count; duplicates are left for the service to refuse."""
        rows = [entry.form for entry in self.volume_tiers.entries if not entry.form.is_empty()]
        return tuple(
            sorted(
                (VolumeTier(row.min_seats.data, row.extra_points.data) for row in rows),
                key=lambda tier: tier.min_seats,
            )
        )

    def typed(self) -> dict[str, Any]:
        """Every setting as typed, the way ``update_program_terms`` takes it (after ``validate``)."""
        return {
            "reseller_margin_pct": self.reseller_margin_pct.data,
            "premier_margin_pct": self.premier_margin_pct.data,
            "premier_revenue_commitment": Money.parse(self.premier_revenue_commitment.data, self.currency),
            "premier_trained_sales_staff": self.premier_trained_sales_staff.data,
            "registration_lifetime_days": self.registration_lifetime_days.data,
            "commission_hold_days": self.commission_hold_days.data,
            "reseller_registration_cap": self.reseller_registration_cap.data,
            "premier_registration_cap": self.premier_registration_cap.data,
            "claim_decision_working_days": self.claim_decision_working_days.data,
            "contact_email": self.contact_email.data.strip(),
            "volume_tiers": self.tiers(),
        }

    def _shown(self) -> dict[str, Any] | None:
        try:
            shown = json.loads(self.shown_values.data or "")
        except ValueError:
            return None
        return shown if isinstance(shown, dict) else None

    def edits(self, terms: ProgramTerms) -> tuple[dict[str, Any], dict[str, Any]]:
        """What this save changes in ``terms`` (the terms in force now), and what it must not.

        Returns ``(changes, conflicts)``. ``changes`` are the settings this admin changed from what the
        page showed and that differ from ``terms``. ``conflicts`` maps each setting this admin changed
        that another admin has meanwhile set to something else, to its value in force now (as
        ``describe`` gives it): those need a second look before anything is saved.
        """
        now = snapshot(terms)
        shown = self._shown() or now  # a page without it (a hand-made POST) is taken as showing ``terms``
        mine = {name: value for name, value in self.typed().items() if describe(name, value) != shown.get(name)}
        conflicts = {
            name: now[name]
            for name, value in mine.items()
            if now[name] != shown.get(name) and now[name] != describe(name, value)
        }
        changes = {name: value for name, value in mine.items() if describe(name, value) != now[name]}
        return changes, conflicts


def shown_json(terms: ProgramTerms) -> str:
    """``terms`` for the form's hidden ``shown_values``."""
    return json.dumps(snapshot(terms), separators=(",", ":"))


def display(name: str, described: Any) -> str:
    """A value from ``describe`` as a person reads it."""
    if name == "volume_tiers":
        tiers = [f"{tier['min_seats']}+ seats: +{tier['extra_points']}" for tier in described]
        return ", ".join(tiers) or "no tiers"
    if name.endswith("_pct"):
        return formatting.percent(Decimal(described))
    if name == "premier_revenue_commitment":  # "25000.00 USD", as describe() keeps it
        amount, currency = str(described).split()
        return formatting.money(Money.parse(amount, currency))
    return str(described)
