from decimal import Decimal

import pytest

from cloudcodes.program.terms import DEFAULT_TERMS, PREMIER, RESELLER, format_percent


def test_defaults_are_the_published_program():
    assert DEFAULT_TERMS.margin_pct(RESELLER) == 15
    assert DEFAULT_TERMS.margin_pct(PREMIER) == 30
    assert DEFAULT_TERMS.premier_revenue_commitment.format() == "$25,000.00"
    assert DEFAULT_TERMS.registration_lifetime_days == 90
    assert DEFAULT_TERMS.commission_hold_days == 30


@pytest.mark.parametrize(("seats", "points"), [(1, 0), (99, 0), (100, 2), (499, 2), (500, 5), (10_000, 5)])
def test_premier_volume_points_follow_the_highest_tier_reached(seats, points):
    assert DEFAULT_TERMS.volume_points(PREMIER, seats) == points


def test_resellers_get_no_volume_points():
    assert DEFAULT_TERMS.volume_points(RESELLER, 1_000) == 0


def test_unknown_level_is_an_error():
    with pytest.raises(ValueError, match="Unknown level"):
        DEFAULT_TERMS.margin_pct("gold")


@pytest.mark.parametrize(("value", "text"), [("30.00", "30"), ("12.50", "12.5"), ("0", "0"), ("100.00", "100")])
def test_format_percent(value, text):
    assert format_percent(Decimal(value)) == text
