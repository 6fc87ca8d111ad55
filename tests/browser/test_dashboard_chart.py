"""The overview's 12-month chart in Chromium: Chart.js loads under the CSP and draws the canvas, the
table holds the same months, and axe finds nothing serious or critical on the overview."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations
from tests.browser.test_team_journey import OWNER, log_in

pytestmark = pytest.mark.browser


def test_the_overview_draws_its_chart_and_passes_axe(page, site):
    # The page fixture fails the test on any console error, CSP violation or failed load.
    log_in(page, *OWNER)
    page.get_by_role("heading", name="Welcome, Olivia Owner").wait_for()
    chart = page.get_by_role("img", name="Bar chart of your earnings and referred revenue per month")
    chart.wait_for()
    drawn = page.evaluate(
        """() => {
            const canvas = document.getElementById("earnings-chart");
            const chart = window.Chart && window.Chart.getChart(canvas);
            return {labels: chart ? chart.data.labels.length : 0, width: canvas.width, height: canvas.height};
        }"""
    )
    assert drawn["labels"] == 12 and drawn["width"] > 0 and drawn["height"] > 0
    # The table is the chart's text equivalent: 12 months, present even before it is opened.
    assert page.locator("#earnings-chart-table tbody tr").count() == 12
    assert axe_violations(page) == []
    page.get_by_text("The figures as a table").click()
    page.get_by_role("table", name="Your earnings and referred revenue").wait_for()
    assert axe_violations(page) == []
