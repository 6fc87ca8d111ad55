"""Staff-written Markdown made safe to show, with the program's live numbers filled in."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from cloudcodes import formatting
from cloudcodes.program.terms import ProgramTerms

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_PLACEHOLDER = re.compile(r"\[\[\s*([a-z_]+)\s*\]\]")
ALLOWED_TAGS = {"p", "a", "ul", "ol", "li", "strong", "em", "code", "pre", "blockquote", "br", "h3", "h4",
                "table", "thead", "tbody", "tr", "th", "td"}  # fmt: skip


def placeholders(terms: ProgramTerms) -> dict[str, str]:
    """The numbers an FAQ answer may quote, so the text follows the settings."""
    return {
        "reseller_margin": formatting.percent(terms.reseller_margin_pct),
        "premier_margin": formatting.percent(terms.premier_margin_pct),
        "premier_commitment": formatting.money(terms.premier_revenue_commitment),
        "premier_trained_staff": formatting.number(terms.premier_trained_sales_staff),
        "lifetime_days": formatting.number(terms.registration_lifetime_days),
        "hold_days": formatting.number(terms.commission_hold_days),
        "contact_email": terms.contact_email,
    }


def render_markdown(text: str, terms: ProgramTerms) -> Markup:
    values = placeholders(terms)
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
    html = nh3.clean(_markdown.render(filled), tags=ALLOWED_TAGS, link_rel="noopener noreferrer")
    return Markup(html)  # noqa: S704 - nh3 has just sanitised it against ALLOWED_TAGS
