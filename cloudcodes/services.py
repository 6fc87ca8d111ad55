"""What every service shares: the refusal it raises and the transaction it owns.

A service is a function that changes the database for one request of a user (or a job). It is
decorated with ``@transactional``: when it returns, its work is committed; when it raises (a
refusal or a fault), everything it did is rolled back, row locks included, so nothing of a refused
request stays in the session. A service called by another service joins the caller's transaction:
only the outermost one commits, so a request is all or nothing however its services are composed.

Refusals are ``ServiceError`` (or a subclass a caller wants to tell apart): the message is written
for the person who asked, and ``field`` names the form field at fault, when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from cloudcodes.extensions import db

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")

# Kept in the session's own ``info`` dict, so each scoped session (request, thread) counts its own.
_DEPTH_KEY = "cloudcodes.service_depth"
_AFTER_COMMIT_KEY = "cloudcodes.after_commit"


class ServiceError(Exception):
    """A request the rules refuse; the message says why and what to do instead."""

    # The status a page (or the API) answers with when it shows the refusal.
    status = 400

    def __init__(self, message: str, field: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # A stable name for the kind of refusal, for the API's error codes and callers that branch on it.
        self.code = code


class ChangedMeanwhile(ServiceError):
    """The record changed while the user looked at it (someone else acted first).

    Nothing on the form can fix that, so pages show it as a warning on the page the user goes
    back to, which shows where things stand now.
    """


def reads_one_statement() -> None:
    """For a request that only reads, with one statement: on PostgreSQL that statement runs on its own
    (autocommit), so the request sends no BEGIN before it and no ROLLBACK after it, two of its three
    round trips. A statement on its own sees one moment, as a transaction would; several statements
    would each see their own, and a write would commit at once, so neither belongs in such a request.
    Called before the request's first statement (later, it leaves the transaction as it is).
    """
    if db.engine.dialect.name == "postgresql" and db.session().get_transaction() is None:
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def transactional(service: Callable[_Params, _Result]) -> Callable[_Params, _Result]:
    """Commit when the outermost service returns; roll back when it raises."""

    @wraps(service)
    def wrapper(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        info = db.session.info
        depth = info.get(_DEPTH_KEY, 0)
        info[_DEPTH_KEY] = depth + 1
        try:
            result = service(*args, **kwargs)
        except BaseException:
            if depth == 0:
                info.pop(_AFTER_COMMIT_KEY, None)
                db.session.rollback()
            raise
        finally:
            info[_DEPTH_KEY] = depth
        if depth == 0:
            try:
                db.session.commit()
            except BaseException:  # a constraint only the commit checks: leave the session usable
                info.pop(_AFTER_COMMIT_KEY, None)
                db.session.rollback()
                raise
            for callback in info.pop(_AFTER_COMMIT_KEY, []):
                callback()
        return result

    return wrapper


def after_commit(callback: Callable[[], object], *, once: bool = False) -> None:
    """Run ``callback`` once the current service's work is committed (never, if it is rolled back).

    For work that must not share the fate of the transaction that caused it, such as the upgrade
    check a new purchase triggers: the purchase stands even if that check fails. ``once``: a
    callback already registered in this transaction is not added again (one delivery of the
    outbox for all the e-mail a transaction queued).
    """
    if not db.session.info.get(_DEPTH_KEY):
        raise RuntimeError("after_commit() is for use inside a @transactional service.")
    callbacks = db.session.info.setdefault(_AFTER_COMMIT_KEY, [])
    if once and callback in callbacks:
        return
    callbacks.append(callback)
