"""What an application must show to be sent, by level. No Flask, no database."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from cloudcodes import formatting
from cloudcodes.money import Money
from cloudcodes.program.terms import PREMIER, Level, ProgramTerms

_COMPANY_SUFFIXES = re.compile(
    r"\b(inc|incorporated|llc|ltd|limited|gmbh|ag|sa|sas|srl|bv|nv|pty|plc|pvt|co|corp|corporation|company)\b"
)


HEARD_FROM_OPTIONS = {
    "google_partner_directory": "Google partner directory or event",
    "customer": "One of our customers",
    "colleague": "A colleague or another partner",
    "search": "A web search",
    "social": "Social media",
    "cloudcodes": "Someone at CloudCodes",
    "other": "Somewhere else",
}


@dataclass(frozen=True)
class ApplicationInput:
    level: Level
    company_name: str
    website: str
    country: str
    contact_name: str
    contact_email: str
    contact_phone: str
    is_workspace_reseller: bool
    workspace_reseller_id: str
    sales_team_size: int
    technical_team_size: int
    expected_customers: int
    heard_from: str
    committed_revenue: Money | None = None
    trained_sales_staff: int | None = None
    agrees_to_business_plan: bool | None = None
    product_page_url: str | None = None
    marketing_campaign: str | None = None


def unmet_requirements(
    data: ApplicationInput, terms: ProgramTerms, *, unreadable: Collection[str] = ()
) -> dict[str, str]:
    """Field name -> why the program's requirement is not met; empty when the application can be sent.

    ``unreadable`` names the fields the form could not read (it says why itself): nothing is said
    about them, nor judged from them.
    """
    unmet: dict[str, str] = {}
    if not data.is_workspace_reseller:
        unmet["is_workspace_reseller"] = (
            "Every CloudCodes partner resells Google Workspace. Become a Google Workspace reseller first, "
            "then apply with your reseller ID."
        )
    elif not data.workspace_reseller_id.strip():
        unmet["workspace_reseller_id"] = "Give your Google Workspace reseller ID or a link to your reseller listing."
    if data.sales_team_size < 1:
        unmet["sales_team_size"] = "Partners need a sales team of at least one person."
    if data.technical_team_size < 1:
        unmet["technical_team_size"] = "Partners need a technical team of at least one person to support customers."
    if data.level != PREMIER:
        return _judged(unmet, unreadable)
    commitment = terms.premier_revenue_commitment
    if data.committed_revenue is None or data.committed_revenue.minor < commitment.minor:
        unmet["committed_revenue"] = (
            f"Premier partners commit to at least {formatting.money(commitment)} of revenue a year. "
            "Commit to that amount, or apply as a Reseller."
        )
    needed = terms.premier_trained_sales_staff
    if data.trained_sales_staff is None or data.trained_sales_staff < needed:
        unmet["trained_sales_staff"] = (
            f"Premier partners have at least {formatting.plural(needed, 'member')} of their sales staff "
            "trained on CloudCodes."
        )
    elif "sales_team_size" not in unreadable and data.trained_sales_staff > data.sales_team_size:
        unmet["trained_sales_staff"] = "You cannot train more sales staff than your sales team has."
    if not data.agrees_to_business_plan:
        unmet["agrees_to_business_plan"] = "Premier partners agree a joint business plan with CloudCodes for the year."
    if not (data.product_page_url or "").strip():
        unmet["product_page_url"] = (
            "Give the address of the page of your web site that will carry the CloudCodes product."
        )
    if not (data.marketing_campaign or "").strip():
        unmet["marketing_campaign"] = "Describe the joint marketing campaign you propose to run with us this year."
    return _judged(unmet, unreadable)


def _judged(unmet: dict[str, str], unreadable: Collection[str]) -> dict[str, str]:
    return {name: message for name, message in unmet.items() if name not in unreadable}


def company_key(name: str) -> str:
    """The company name folded so that "Acme Cloud, Inc." and "ACME  cloud" count as the same company."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    folded = re.sub(r"[^a-z0-9]+", " ", folded)
    folded = _COMPANY_SUFFIXES.sub(" ", folded)
    return " ".join(folded.split()) or name.strip().lower()
