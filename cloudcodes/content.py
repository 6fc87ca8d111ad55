"""Staff-written Markdown made safe to show, with the program's live numbers filled in."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from cloudcodes.program.terms import ProgramTerms, format_percent

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_PLACEHOLDER = re.compile(r"\[\[\s*([a-z_]+)\s*\]\]")
ALLOWED_TAGS = {"p", "a", "ul", "ol", "li", "strong", "em", "code", "pre", "blockquote", "br", "h3", "h4",
                "table", "thead", "tbody", "tr", "th", "td"}  # fmt: skip


def placeholders(terms: ProgramTerms) -> dict[str, str]:
    """The numbers an FAQ answer may quote, so the text follows the settings."""
    return {
        "reseller_margin": f"{format_percent(terms.reseller_margin_pct)} %",
        "premier_margin": f"{format_percent(terms.premier_margin_pct)} %",
        "premier_commitment": terms.premier_revenue_commitment.format(),
        "premier_trained_staff": str(terms.premier_trained_sales_staff),
        "lifetime_days": str(terms.registration_lifetime_days),
        "hold_days": str(terms.commission_hold_days),
        "contact_email": terms.contact_email,
    }


def render_markdown(text: str, terms: ProgramTerms) -> Markup:
    values = placeholders(terms)
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
    html = nh3.clean(_markdown.render(filled), tags=ALLOWED_TAGS, link_rel="noopener noreferrer")
    return Markup(html)  # noqa: S704 - nh3 has just sanitised it against ALLOWED_TAGS
