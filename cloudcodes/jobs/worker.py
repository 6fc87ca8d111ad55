"""The Celery entry point: ``celery -A cloudcodes.jobs.worker:celery worker`` and ``... beat``.

``celery`` is made on first use from the environment (``create_app()``, the same settings as the web
server), with every feature's tasks loaded and the beat schedule built from their ``@job``
declarations. Importing this module makes no app: the console imports it for ``load_tasks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudcodes.jobs.models import JobTrigger
from cloudcodes.jobs.runs import REGISTRY, JobSpec

if TYPE_CHECKING:
    from celery import Celery

# How long a sent beat may wait for a worker before it is dropped: the next one comes anyway.
SWEEP_EXPIRES = 120  # seconds, for jobs that run every few minutes


def load_tasks() -> dict[str, JobSpec]:
    """Import every feature's tasks (registering them with Celery); every job by name."""
    from cloudcodes.billing import tasks as billing_tasks  # noqa: F401
    from cloudcodes.jobs import tasks as job_tasks  # noqa: F401
    from cloudcodes.mail import tasks as mail_tasks  # noqa: F401
    from cloudcodes.notices import tasks as notice_tasks  # noqa: F401
    from cloudcodes.qualification import tasks as qualification_tasks  # noqa: F401
    from cloudcodes.referrals import tasks as referral_tasks  # noqa: F401

    return REGISTRY


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule``: each scheduled job, sent with ``trigger="schedule"``."""
    entries: dict[str, dict[str, Any]] = {}
    for name, spec in sorted(load_tasks().items()):
        if spec.schedule is None:
            continue
        entry: dict[str, Any] = {"task": name, "schedule": spec.schedule, "kwargs": {"trigger": JobTrigger.SCHEDULE}}
        run_every = getattr(spec.schedule, "run_every", None)
        if run_every is not None and run_every.total_seconds() <= 15 * 60:
            entry["options"] = {"expires": SWEEP_EXPIRES}
        entries[name] = entry
    return entries


def make_celery() -> Celery:
    import cloudcodes  # the app factory
    from cloudcodes.jobs.queue import celery_of

    app = cloudcodes.create_app()
    celery = celery_of(app)
    celery.conf.beat_schedule = beat_schedule()
    return celery


def __getattr__(name: str) -> Any:
    if name == "celery":
        celery = make_celery()
        globals()["celery"] = celery
        return celery
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
