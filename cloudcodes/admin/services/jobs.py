"""An administrator's "Run now" on the console's Jobs page: the job goes to a worker, or runs here.

The request is audited before the job is sent. With the broker out of reach the job runs in the
web process instead (recorded like any run, not retried): the console still gets its work done,
and says the broker needs attention.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloudcodes.audit.services import record
from cloudcodes.auth.models import User
from cloudcodes.jobs.models import JobRun, JobTrigger
from cloudcodes.jobs.queue import BrokerUnavailable, enqueue
from cloudcodes.jobs.runs import JobSpec, run_recorded
from cloudcodes.services import transactional


@dataclass(frozen=True)
class RunNow:
    queued: bool  # handed to a worker; otherwise it ran here (``run``)
    broker_problem: str | None = None
    run: JobRun | None = None
    error: str | None = None  # the in-process run failed: why


@transactional
def _audit(spec: JobSpec, by: User, how: str, details: dict[str, str]) -> None:
    record("job.run_requested", actor=by, details={"job": spec.name, "how": how, **details})


def run_now(spec: JobSpec, *, by: User) -> RunNow:
    try:
        task_id = enqueue(spec.name, trigger=JobTrigger.MANUAL)
    except BrokerUnavailable as unavailable:
        _audit(spec, by, "in the web process", {"broker": str(unavailable)})
        try:
            run = run_recorded(spec, trigger=JobTrigger.MANUAL, will_retry=False)
        except Exception as error:  # noqa: BLE001 - recorded as a failed run; the admin is told why
            return RunNow(queued=False, broker_problem=str(unavailable), error=f"{type(error).__name__}: {error}")
        return RunNow(queued=False, broker_problem=str(unavailable), run=run)
    _audit(spec, by, "queued", {"task_id": task_id})
    return RunNow(queued=True)
