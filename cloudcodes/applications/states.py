"""The application's states and the moves between them. No Flask, no database."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    WAITING_ON_APPLICANT = "waiting_on_applicant"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


class Action(StrEnum):
    START_REVIEW = "start_review"
    ASK = "ask"
    ANSWER = "answer"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"


STATE_LABELS = {
    State.SUBMITTED: "Submitted",
    State.IN_REVIEW: "In review",
    State.WAITING_ON_APPLICANT: "Waiting on the applicant",
    State.APPROVED: "Approved",
    State.REJECTED: "Rejected",
    State.WITHDRAWN: "Withdrawn",
}

OPEN_STATES = frozenset({State.SUBMITTED, State.IN_REVIEW, State.WAITING_ON_APPLICANT})

# (action, from state) -> to state. Anything not listed is refused.
TRANSITIONS: dict[tuple[Action, State], State] = {
    (Action.START_REVIEW, State.SUBMITTED): State.IN_REVIEW,
    (Action.ASK, State.SUBMITTED): State.WAITING_ON_APPLICANT,
    (Action.ASK, State.IN_REVIEW): State.WAITING_ON_APPLICANT,
    (Action.ASK, State.WAITING_ON_APPLICANT): State.WAITING_ON_APPLICANT,
    (Action.ANSWER, State.WAITING_ON_APPLICANT): State.IN_REVIEW,
    **{(Action.APPROVE, s): State.APPROVED for s in OPEN_STATES},
    **{(Action.REJECT, s): State.REJECTED for s in OPEN_STATES},
    **{(Action.WITHDRAW, s): State.WITHDRAWN for s in OPEN_STATES},
}


class TransitionRefused(ValueError):
    """The move is not allowed from the application's current state; the message says why."""


def next_state(action: Action, current: State) -> State:
    try:
        return TRANSITIONS[(action, current)]
    except KeyError:
        raise TransitionRefused(
            f"This application is {current.label.lower()}, so it cannot be {ACTION_PAST[action]} now."
        ) from None


ACTION_PAST = {
    Action.START_REVIEW: "taken into review",
    Action.ASK: "sent a question",
    Action.ANSWER: "answered",
    Action.APPROVE: "approved",
    Action.REJECT: "rejected",
    Action.WITHDRAW: "withdrawn",
}


def allowed_actions(current: State) -> frozenset[Action]:
    return frozenset(action for (action, state) in TRANSITIONS if state == current)
