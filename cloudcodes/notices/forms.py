"""The "E-mail notices" form of ``/account``: one choice (at once, daily digest, off) per kind the user may get."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from cloudcodes.forms import PortalForm
from cloudcodes.notices.rules import Delivery, NoticeKind

FIELD_PREFIX = "notice_"


class NoticePreferencesForm(PortalForm):
    """Its fields are added per user (``preferences_form``): the kinds its role may hear of."""

    def kinds(self) -> list[NoticeKind]:
        return [NoticeKind(name.removeprefix(FIELD_PREFIX)) for name in self._fields if name.startswith(FIELD_PREFIX)]

    def choices(self) -> dict[NoticeKind, Delivery]:
        return {kind: Delivery(self[FIELD_PREFIX + kind.value].data) for kind in self.kinds()}


def preferences_form(
    kinds: Iterable[NoticeKind], current: Mapping[NoticeKind, Delivery], **form_args: Any
) -> NoticePreferencesForm:
    """The form for ``kinds``, each field preset to the user's ``current`` choice."""

    class UsersNoticeForm(NoticePreferencesForm):
        pass

    for kind in kinds:
        field = RadioField(
            kind.label,
            choices=[SelectChoice(delivery.value, delivery.label) for delivery in Delivery],
            default=current[kind].value,
            validators=[InputRequired(f"Choose how you get the notice “{kind.label}”.")],
        )
        setattr(UsersNoticeForm, FIELD_PREFIX + kind.value, field)
    return UsersNoticeForm(prefix="notices", **form_args)
