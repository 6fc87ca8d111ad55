"""The recurring jobs (``/admin/jobs``): each job's last run, the recent failures, and "Run now".

Staff see the page; only administrators run a job by hand (``admin_only``), which sends it to a
worker at once (or, with the task broker out of reach, runs it here in the web process).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import abort, render_template, url_for
from flask.typing import ResponseReturnValue

from cloudcodes import clock
from cloudcodes.admin import admin_only, blueprint
from cloudcodes.admin.forms.jobs import RunJobForm
from cloudcodes.admin.services.jobs import run_now
from cloudcodes.jobs.health import scheduler_problem
from cloudcodes.jobs.models import JobOutcome, JobRun
from cloudcodes.jobs.queue import broker_problem
from cloudcodes.jobs.runs import JobSpec, last_runs, last_success, recent_failures
from cloudcodes.jobs.worker import load_tasks
from cloudcodes.web import Done, current_staff, submit

RECENT_FAILURES = 20


@dataclass(frozen=True)
class JobRow:
    spec: JobSpec
    last: JobRun | None
    last_success: datetime | None
    next_due: datetime | None


def _render(form: RunJobForm | None = None, status: int = 200) -> ResponseReturnValue:
    now = clock.now()
    latest, succeeded = last_runs(), last_success()
    rows = [
        JobRow(
            spec,
            latest.get(name),
            succeeded.get(name),
            spec.next_due(latest[name].started_at if name in latest else None, now),
        )
        for name, spec in sorted(load_tasks().items())
    ]
    return render_template(
        "admin/jobs.html",
        rows=rows,
        failures=recent_failures(RECENT_FAILURES),
        broker_problem=broker_problem(),
        scheduler_problem=scheduler_problem(now),
        run_form=form or RunJobForm(formdata=None),
        running=JobOutcome.RUNNING,
    ), status


@blueprint.get("/jobs")
def jobs() -> ResponseReturnValue:
    return _render()


@blueprint.post("/jobs/<name>/run")
@admin_only
def job_run(name: str) -> ResponseReturnValue:
    spec = load_tasks().get(name)
    if spec is None:
        abort(404)
    form = RunJobForm()

    def perform() -> Done:
        outcome = run_now(spec, by=current_staff())
        if outcome.queued:
            return Done(f"“{spec.title}” is queued: a worker runs it in a moment, and its run appears below.")
        where = (
            f"The task broker cannot be reached ({outcome.broker_problem}), so “{spec.title}” ran here, in the web "
            "server, instead of on a worker"
        )
        if outcome.error:
            return Done(f"{where}, and failed: {outcome.error}", category="warning")
        run = outcome.run
        if run is not None and run.outcome == JobOutcome.SKIPPED:
            done = f"{where}; it did nothing: {run.error}"
        else:
            done = f"{where}; it succeeded ({run.counts_text if run and run.counts else 'nothing to do'})."
        return Done([done, "Start the broker (or correct BROKER_URL) so that the schedule runs."], category="warning")

    return submit(form, perform, back=url_for("admin.jobs"), show=lambda status: _render(form, status))
