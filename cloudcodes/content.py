"""Staff-written Markdown made safe to show, with the program's live numbers filled in.

The Markdown is turned into sanitised HTML once, when an answer is saved (``answer_html``), with its
``[[placeholders]]`` left in; a page only fills them in (``fill_placeholders``), escaped, because the
numbers follow the settings and the reader's locale.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from cloudcodes import formatting
from cloudcodes.program.terms import ProgramTerms

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_PLACEHOLDER = re.compile(r"\[\[\s*([a-z_]+)\s*\]\]")
# While Markdown is rendered a placeholder travels as a word of letters, digits and dashes, which
# neither Markdown, nor a link's address, nor the sanitiser changes; it is [[name]] again after.
_TRAVELLING = re.compile(r"ccph-([a-z_]+)-ccph")
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


def answer_html(text: str) -> str:
    """Markdown as sanitised HTML, its placeholders still in: what is stored when an answer is saved."""
    travelling = _PLACEHOLDER.sub(lambda m: f"ccph-{m.group(1)}-ccph", text)
    html = nh3.clean(_markdown.render(travelling), tags=ALLOWED_TAGS, link_rel="noopener noreferrer")
    return _TRAVELLING.sub(lambda m: f"[[{m.group(1)}]]", html)


def fill_placeholders(html: str, terms: ProgramTerms) -> Markup:
    """Sanitised HTML (``answer_html``) with the program's numbers in it, each escaped."""
    values = {name: str(escape(value)) for name, value in placeholders(terms).items()}
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), html)
    return Markup(filled)  # noqa: S704 - nh3 sanitised the HTML when it was saved; the values are escaped


def render_markdown(text: str, terms: ProgramTerms) -> Markup:
    return fill_placeholders(answer_html(text), terms)
