"""Staff write the public FAQ: questions, their order, their addresses. Every change is audited.

Each function owns its transaction: it commits with its audit event, or raises ``FaqError`` naming
the field at fault and leaves nothing behind.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cloudcodes import formatting
from cloudcodes.audit.services import record
from cloudcodes.content import placeholders
from cloudcodes.extensions import db
from cloudcodes.program.services import program_terms
from cloudcodes.public.models import FaqEntry
from cloudcodes.services import ServiceError, transactional

QUESTION_MAX = 300
SLUG_MAX = 80  # the column's length
ANSWER_MAX = 20_000
UP, DOWN = "up", "down"

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# The same shape cloudcodes.content fills in: [[name]], spaces allowed inside the brackets.
_PLACEHOLDER = re.compile(r"\[\[\s*([A-Za-z_]+)\s*\]\]")
_TAKEN = "Another question already uses this address; choose another one."


class FaqError(ServiceError):
    """A change to the FAQ that cannot be made; ``field`` names the form field at fault, if one is."""


@dataclass(frozen=True, slots=True)
class FaqInput:
    question: str
    slug: str  # empty: made from the question
    answer_markdown: str
    published: bool


def make_slug(text: str) -> str:
    """``What is the Premier margin?`` -> ``what-is-the-premier-margin``; accents dropped, at most 80 long."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:SLUG_MAX].rstrip("-") or "question"


def available_placeholders() -> dict[str, str]:
    """The placeholders an answer may use, with what each reads as now."""
    return placeholders(program_terms())


def ordered_entries() -> list[FaqEntry]:
    return list(db.session.scalars(select(FaqEntry).order_by(FaqEntry.position, FaqEntry.id)))


def _slug_taken(slug: str, exclude_id: int | None) -> bool:
    query = select(FaqEntry.id).where(FaqEntry.slug == slug)
    if exclude_id is not None:
        query = query.where(FaqEntry.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def _free_slug(base: str, exclude_id: int | None) -> str:
    """``base``, or ``base-2``, ``base-3``... : the first no other question uses."""
    candidate, number = base, 1
    while _slug_taken(candidate, exclude_id):
        number += 1
        suffix = f"-{number}"
        candidate = base[: SLUG_MAX - len(suffix)].rstrip("-") + suffix
    return candidate


def _clean(data: FaqInput, exclude_id: int | None) -> FaqInput:
    question = " ".join(data.question.split())
    answer = data.answer_markdown.strip()
    if not question:
        raise FaqError("Enter the question.", "question")
    if len(question) > QUESTION_MAX:
        raise FaqError(f"A question has at most {QUESTION_MAX} characters.", "question")
    if not answer:
        raise FaqError("Enter the answer.", "answer_markdown")
    if len(answer) > ANSWER_MAX:
        raise FaqError(f"An answer has at most {formatting.number(ANSWER_MAX)} characters.", "answer_markdown")
    known = available_placeholders()
    unknown = sorted({name for name in _PLACEHOLDER.findall(answer) if name not in known})
    if unknown:
        names = ", ".join(f"[[{name}]]" for name in unknown)
        raise FaqError(
            f"Unknown placeholder {names}: use one of {', '.join(f'[[{name}]]' for name in known)}.",
            "answer_markdown",
        )
    typed = data.slug.strip().lower()
    if typed:
        if len(typed) > SLUG_MAX or not _SLUG.fullmatch(typed):
            raise FaqError(
                f"Use lower-case letters, digits and single dashes between them (at most {SLUG_MAX}), "
                "such as premier-margin.",
                "slug",
            )
        if _slug_taken(typed, exclude_id):
            raise FaqError(_TAKEN, "slug")
        slug = typed
    else:
        slug = _free_slug(make_slug(question), exclude_id)
    return FaqInput(question=question, slug=slug, answer_markdown=answer, published=data.published)


def _write() -> None:
    """Send the change now: the slug's unique constraint has the last word when two admins pick one at once."""
    try:
        db.session.flush()
    except IntegrityError:
        raise FaqError(_TAKEN, "slug") from None


@transactional
def create_entry(data: FaqInput, *, by: Any = None) -> FaqEntry:
    """A new question, placed last."""
    clean = _clean(data, exclude_id=None)
    last = db.session.scalar(select(func.max(FaqEntry.position)))
    entry = FaqEntry(
        question=clean.question,
        slug=clean.slug,
        answer_markdown=clean.answer_markdown,
        published=clean.published,
        position=(last or 0) + 1,
    )
    db.session.add(entry)
    _write()
    record(
        "faq.created",
        actor=by,
        target=entry,
        details={"slug": entry.slug, "question": entry.question, "published": entry.published},
    )
    _write()
    return entry


@transactional
def update_entry(entry: FaqEntry, data: FaqInput, *, by: Any = None) -> dict[str, dict[str, Any]]:
    """Save the question's new text; returns what changed (before and after), empty when nothing did."""
    clean = _clean(data, exclude_id=entry.id)
    changes: dict[str, dict[str, Any]] = {}
    for name in ("question", "slug", "answer_markdown", "published"):
        before, after = getattr(entry, name), getattr(clean, name)
        if before != after:
            changes[name] = {"before": before, "after": after}
            setattr(entry, name, after)
    if not changes:
        return changes
    record("faq.updated", actor=by, target=entry, details={"slug": clean.slug, "changes": changes})
    _write()
    return changes


@transactional
def move_entry(entry: FaqEntry, direction: str, *, by: Any = None) -> None:
    """Swap the question with its neighbour above (``up``) or below (``down``).

    Positions are renumbered 1, 2, 3... on the way, so entries that shared a position (or had gaps)
    end in a clear order.
    """
    if direction not in (UP, DOWN):
        raise FaqError("Move a question up or down.")
    entries = ordered_entries()
    index = next(i for i, candidate in enumerate(entries) if candidate.id == entry.id)
    other = index - 1 if direction == UP else index + 1
    if not 0 <= other < len(entries):
        raise FaqError("This question is already " + ("first." if direction == UP else "last."))
    entries[index], entries[other] = entries[other], entries[index]
    for position, candidate in enumerate(entries, start=1):
        if candidate.position != position:
            candidate.position = position
    record(
        "faq.moved",
        actor=by,
        target=entry,
        details={"slug": entry.slug, "direction": direction, "from": index + 1, "to": other + 1},
    )


@transactional
def delete_entry(entry: FaqEntry, *, by: Any = None) -> None:
    """Remove the question for good; the audit event keeps its text."""
    record(
        "faq.deleted",
        actor=by,
        target=entry,
        details={
            "slug": entry.slug,
            "question": entry.question,
            "answer_markdown": entry.answer_markdown,
            "published": entry.published,
        },
    )
    db.session.delete(entry)
