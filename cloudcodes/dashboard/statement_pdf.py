"""A payout statement as a PDF a finance team can file, rendered by WeasyPrint from an HTML template.

The document needs nothing from outside: its style sheet is in the template, its fonts are the
system's (Debian's DejaVu fonts, found by fontconfig), and the URL fetcher refuses every URL, so a
description that somehow held an image or a style sheet link could never make the server fetch it.
"""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn

from flask import render_template
from sqlalchemy import select
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from cloudcodes.billing.models import PayoutStatement
from cloudcodes.billing.payouts import month_end, statement_lines
from cloudcodes.extensions import db
from cloudcodes.partners.models import Partner, PartnerPayoutDetails
from cloudcodes.program.services import program_terms


class NothingFetched(URLFetcher):
    """A URL fetcher that fetches nothing: the statement is complete as rendered."""

    def fetch(self, url: str, headers: object = None) -> NoReturn:
        raise ValueError(f"A statement loads nothing from outside; {url[:80]!r} was not fetched.")


def statement_pdf(statement: PayoutStatement, partner: Partner, *, issued_at: datetime) -> bytes:
    """The PDF of ``statement`` (one of ``partner``'s), as issued at ``issued_at``."""
    details = db.session.scalar(select(PartnerPayoutDetails).where(PartnerPayoutDetails.partner_id == partner.id))
    html = render_template(
        "dashboard/statement_pdf.html",
        statement=statement,
        partner=partner,
        payee=details.payee_legal_name if details and details.payee_legal_name else partner.name,
        lines=statement_lines(statement),
        period_end=month_end(statement.period_start),
        issued_at=issued_at,
        terms=program_terms(),
    )
    return HTML(string=html, url_fetcher=NothingFetched()).write_pdf()
