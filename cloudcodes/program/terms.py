"""The program's terms as plain values, and the rules that read them. No Flask, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from cloudcodes.money import Money


class Level(StrEnum):
    """A partner level; stored as its value wherever a level is kept."""

    RESELLER = "reseller"
    PREMIER = "premier"

    @property
    def label(self) -> str:
        return LEVEL_NAMES[self]


# The members under the names the rules and tests have long used; LEVEL_NAMES feeds formatting.level_name().
RESELLER = Level.RESELLER
PREMIER = Level.PREMIER
LEVELS = tuple(Level)
LEVEL_NAMES = {Level.RESELLER: "Reseller", Level.PREMIER: "Premier"}


@dataclass(frozen=True, slots=True)
class VolumeTier:
    """Extra margin points on one purchase of at least ``min_seats`` seats (Premier only)."""

    min_seats: int
    extra_points: Decimal


@dataclass(frozen=True, slots=True)
class ProgramTerms:
    reseller_margin_pct: Decimal
    premier_margin_pct: Decimal
    premier_revenue_commitment: Money
    premier_trained_sales_staff: int
    registration_lifetime_days: int
    commission_hold_days: int
    # Active registrations a partner may hold at once, by its level.
    reseller_registration_cap: int
    premier_registration_cap: int
    # Working days (Monday to Friday) the holder's manager has to decide a claim on its domain.
    claim_decision_working_days: int
    currency: str
    contact_email: str
    volume_tiers: tuple[VolumeTier, ...] = field(default=())

    def margin_pct(self, level: Level) -> Decimal:
        if level == Level.PREMIER:
            return self.premier_margin_pct
        if level == Level.RESELLER:
            return self.reseller_margin_pct
        raise ValueError(f"Unknown level {level!r}.")

    def registration_cap(self, level: Level) -> int:
        return self.premier_registration_cap if level == Level.PREMIER else self.reseller_registration_cap

    def volume_points(self, level: Level, seats: int) -> Decimal:
        """The extra points one purchase of ``seats`` earns: the highest tier reached, Premier only."""
        if level != Level.PREMIER:
            return Decimal(0)
        reached = [tier.extra_points for tier in self.volume_tiers if seats >= tier.min_seats]
        return max(reached, default=Decimal(0))

    @property
    def max_volume_points(self) -> Decimal:
        """The most extra points a purchase can earn: those of its best tier (Premier only)."""
        return max((tier.extra_points for tier in self.volume_tiers), default=Decimal(0))

    @property
    def max_margin_pct(self) -> Decimal:
        """The most a purchase can earn, in per cent: the Premier margin plus its best volume points."""
        return max(self.reseller_margin_pct, self.premier_margin_pct + self.max_volume_points)


DEFAULT_TERMS = ProgramTerms(
    reseller_margin_pct=Decimal("15"),
    premier_margin_pct=Decimal("30"),
    premier_revenue_commitment=Money(25_000_00, "USD"),
    premier_trained_sales_staff=1,
    registration_lifetime_days=90,
    commission_hold_days=30,
    reseller_registration_cap=50,
    premier_registration_cap=250,
    claim_decision_working_days=5,
    currency="USD",
    contact_email="partners@cloudcodes.example",
    volume_tiers=(VolumeTier(100, Decimal("2")), VolumeTier(500, Decimal("5"))),
)


def format_percent(value: Decimal) -> str:
    """``30`` for 30.00, ``12.5`` for 12.50: what a person writes before the % sign."""
    return format(value.normalize(), "f")
