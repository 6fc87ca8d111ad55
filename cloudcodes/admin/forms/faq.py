"""Forms of the staff console's FAQ pages (``/admin/faq``).

Whether a slug is free or a placeholder known is ``cloudcodes.public.faq_admin``'s call (``FaqError``
names the field); the forms check what was typed is there and not too long.
"""

from __future__ import annotations

from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from cloudcodes.forms import PortalForm
from cloudcodes.public.faq_admin import ANSWER_MAX, QUESTION_MAX, SLUG_MAX, FaqInput


class FaqForm(PortalForm):
    question = StringField(
        "Question",
        validators=[DataRequired("Enter the question."), Length(max=QUESTION_MAX)],
    )
    slug = StringField(
        "Address on the FAQ page (optional)",
        validators=[Optional(), Length(max=SLUG_MAX)],
        description=(
            "The part after /faq# that links straight to this question: lower-case letters, digits and dashes. "
            "Leave it empty to make it from the question. Changing it breaks links people have saved."
        ),
    )
    answer_markdown = TextAreaField(
        "Answer (Markdown)",
        validators=[DataRequired("Enter the answer."), Length(max=ANSWER_MAX)],
        render_kw={"rows": 10},
    )
    published = BooleanField("Published on the public FAQ", default=True)

    def to_input(self) -> FaqInput:
        return FaqInput(
            question=self.question.data or "",
            slug=self.slug.data or "",
            answer_markdown=self.answer_markdown.data or "",
            published=bool(self.published.data),
        )


class MoveFaqForm(PortalForm):
    """The up and down buttons of the FAQ list: the button pressed (``name="direction"``) says which way.

    Only the CSRF token is rendered; the field is read from the button, never drawn.
    """

    direction = StringField(validators=[AnyOf(("up", "down"), "Move a question up or down.")])


class DeleteFaqForm(PortalForm):
    confirm = BooleanField(
        "Yes, delete this question for good",
        validators=[DataRequired("Tick the box to confirm the deletion.")],
    )
