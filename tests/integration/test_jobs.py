"""The recurring jobs on Celery: real workers on a real broker (Redis, or the embedded one), real SMTP.

A worker runs in a thread of the test (``celery.contrib.testing.worker.start_worker``) on the Redis of
the session, or as ``celery -A cloudcodes.jobs.worker:celery worker -B`` in a process of its own on
the embedded broker, the way ``make run`` starts it. Every run lands in ``job_runs``; the console's
Jobs page and /healthz read it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from celery.schedules import crontab
from sqlalchemy import func, select, update

from cloudcodes import clock
from cloudcodes.audit.models import AuditEvent
from cloudcodes.extensions import db as _db
from cloudcodes.jobs import runs
from cloudcodes.jobs.models import JobOutcome, JobRun, JobTrigger
from cloudcodes.jobs.queue import celery_of, enqueue
from cloudcodes.jobs.runs import REGISTRY, job, run_recorded
from cloudcodes.jobs.worker import beat_schedule, load_tasks
from cloudcodes.mail.models import MailStatus, OutboxMessage
from cloudcodes.mail.outbox import queue_email
from cloudcodes.partners.models import Partner
from cloudcodes.referrals.models import DomainRegistration, ReferralCode
from cloudcodes.referrals.services import issue_code, register_domain
from cloudcodes.services import transactional
from tests.conftest import make_test_app
from tests.factories import make_partner
from tests.support.smtp import SmtpServer, free_port
from tests.support.web import csrf_token, login, make_staff, staff_client, submit

ROOT = Path(__file__).resolve().parents[2]
JOBS = "/admin/jobs"
ALL_JOBS = {
    "outbox.deliver",
    "domains.expire",
    "checkouts.expire",
    "program.upgrades",
    "program.qualify",
    "jobs.prune",
    "notices.reminders",
    "notices.digest",
    "domains.verify",
}

# A job for these tests only, failing the first time with an error worth retrying (a server not up yet).
_flaky_attempts: list[int] = []


def _flaky() -> dict[str, int]:
    _flaky_attempts.append(1)
    if len(_flaky_attempts) == 1:
        raise ConnectionRefusedError("the server is not up yet")
    return {"done": 1}


FLAKY = job("tests.flaky", "Fails once, then works")(_flaky)
REGISTRY.pop(FLAKY.name)  # a task of the worker, but not one of the portal's jobs on the console


# --- Helpers ------------------------------------------------------------------------------------


@pytest.fixture
def queue_app(database_url: str, redis_url: str) -> Iterator[Any]:
    """An app whose task broker is the session's Redis (emptied for each test)."""
    application = make_test_app(database_url, BROKER_URL=redis_url)
    load_tasks()
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


@contextmanager
def worker(app: Any) -> Iterator[None]:
    """A real Celery worker consuming the app's broker, in a thread of this test."""
    with start_worker(celery_of(app), pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"):
        yield


def wait_for(check: Callable[[], Any], *, timeout: float = 20, what: str = "the worker") -> Any:
    """Poll ``check`` until it answers something true (the worker is another thread or process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not get there within {timeout} seconds")


def finished_runs(app: Any, name: str) -> list[JobRun]:
    with app.app_context():
        query = select(JobRun).where(JobRun.job == name, JobRun.outcome != JobOutcome.RUNNING).order_by(JobRun.id)
        runs_ = list(_db.session.scalars(query))
        _db.session.expunge_all()
        return runs_


def runs_of(app: Any, name: str, count: int = 1, **wait: Any) -> list[JobRun]:
    return wait_for(lambda: (found := finished_runs(app, name)) and len(found) >= count and found, **wait)


def expired_registration(app: Any, domain: str = "acme.com") -> int:
    """A registration with a code, ended 10 days ago by its lifetime but still active (no expiry ran)."""
    with app.app_context():
        partner = _db.session.get(Partner, make_partner("Alpha").id)
        registration = register_domain(partner, domain, by=None)
        issue_code(registration, by=None)
        now = clock.now()
        _db.session.execute(
            update(DomainRegistration)
            .where(DomainRegistration.id == registration.id)
            .values(registered_at=now - timedelta(days=100), expires_at=now - timedelta(days=10))
        )
        _db.session.commit()
        return registration.id


@transactional
def _welcome(to: str) -> None:
    """A change that queues an e-mail, the way every service does."""
    queue_email(to=to, template="test_message", context={"title": "Welcome", "name": "Ana", "note": "Hello"})


# --- Delivery of the outbox ------------------------------------------------------------------------


@pytest.mark.smtp
def test_a_queued_mail_is_delivered_by_the_worker_seconds_after_its_commit(queue_app):
    with SmtpServer() as server, worker(queue_app):
        queue_app.config["SMTP_URL"] = server.url
        committed = time.monotonic()
        with queue_app.app_context():
            _welcome("ana@acme.example")
        wait_for(lambda: server.messages, timeout=15, what="the e-mail")
        elapsed = time.monotonic() - committed

    assert elapsed < 15  # seconds, not the minute of the sweep
    [received] = server.received
    assert received.rcpt_tos == ["ana@acme.example"] and received.message["Subject"] == "Welcome"
    [run] = finished_runs(queue_app, "outbox.deliver")
    assert run.trigger == JobTrigger.COMMIT and run.outcome == JobOutcome.SUCCEEDED
    assert run.counts == {"sent": 1, "failed": 0, "given_up": 0, "queued": 0}
    assert run.finished_at >= run.started_at and run.task_id
    with queue_app.app_context():
        assert _db.session.scalar(select(OutboxMessage.status)) == MailStatus.SENT


def test_one_delivery_is_asked_for_per_commit_however_many_messages_it_queued(queue_app):
    @transactional
    def notify_three() -> None:
        for name in ("ana", "ben", "cy"):
            queue_email(to=f"{name}@acme.example", template="test_message", context={"title": "Hi", "name": name})

    with queue_app.app_context():
        notify_three()
        celery = celery_of(queue_app)
        with celery.connection_for_read() as connection, connection.channel() as channel:
            waiting = channel.queue_declare("celery", passive=True).message_count
    assert waiting == 1


def test_a_commit_while_the_broker_is_down_still_succeeds_and_the_sweep_sends_it(database_url, caplog):
    app = make_test_app(database_url, BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    with app.app_context():
        _welcome("ana@acme.example")  # no error: the change and its e-mail are committed
        assert _db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        _db.session.remove()
        _db.engine.dispose()
    assert "the next sweep will send the e-mail" in caplog.text


# --- Each job through the worker ---------------------------------------------------------------------


def test_every_job_runs_on_the_worker_and_records_what_it_did(queue_app):
    registration_id = expired_registration(queue_app)
    with queue_app.app_context():
        for name in sorted(ALL_JOBS):
            enqueue(name, trigger=JobTrigger.MANUAL)
    with worker(queue_app):
        for name in ALL_JOBS:
            runs_of(queue_app, name)

    counts = {name: finished_runs(queue_app, name)[0].counts for name in ALL_JOBS}
    assert counts["domains.expire"] == {"registrations": 1, "codes": 1}
    assert counts["checkouts.expire"] == {"checkouts": 0}
    assert counts["program.upgrades"] == {"partners": 0}
    assert counts["program.qualify"] == {"year": clock.today().year, "partners": 0}
    assert counts["jobs.prune"] == {"runs": 0}
    assert counts["notices.reminders"] == {"registrations": 0, "notices": 0}
    assert counts["notices.digest"] == {"mails": 0, "notices": 0}
    assert counts["domains.verify"] == {"checked": 0, "verified": 0, "unavailable": 0}
    assert counts["outbox.deliver"]["sent"] == 0
    for name in ALL_JOBS:
        [run] = finished_runs(queue_app, name)
        assert (run.outcome, run.trigger, run.attempt, run.error) == (JobOutcome.SUCCEEDED, JobTrigger.MANUAL, 1, None)
        assert run.running_lock is None
    with queue_app.app_context():
        assert _db.session.get(DomainRegistration, registration_id).status == "expired"
        assert {code.state for code in _db.session.scalars(select(ReferralCode))} == {"expired"}


def test_running_domains_expire_twice_changes_nothing_twice(queue_app):
    expired_registration(queue_app)
    with worker(queue_app):
        with queue_app.app_context():
            enqueue("domains.expire", trigger=JobTrigger.SCHEDULE)
        runs_of(queue_app, "domains.expire")
        with queue_app.app_context():
            enqueue("domains.expire", trigger=JobTrigger.SCHEDULE)
        first, second = runs_of(queue_app, "domains.expire", 2)

    assert first.counts == {"registrations": 1, "codes": 1}
    assert second.counts == {"registrations": 0, "codes": 0}
    with queue_app.app_context():
        events = _db.session.scalar(select(func.count()).where(AuditEvent.action == "domains.expired"))
        assert events == 1


def test_a_run_in_progress_makes_the_next_one_skip_and_an_abandoned_one_is_taken_over(app):
    registration_id = expired_registration(app)
    spec = load_tasks()["domains.expire"]
    with app.app_context():
        other = JobRun(
            job=spec.name, task_id="another-worker", trigger=JobTrigger.SCHEDULE, running_lock=spec.name, counts={}
        )
        _db.session.add(other)
        _db.session.commit()

        skipped = run_recorded(spec, trigger=JobTrigger.SCHEDULE, task_id="this-one")
        assert skipped.outcome == JobOutcome.SKIPPED
        assert "Another run of this job was in progress" in skipped.error
        assert _db.session.get(DomainRegistration, registration_id).status == "active"  # it did nothing

        # Three hours later the other run never ended: its worker died.
        _db.session.execute(
            update(JobRun).where(JobRun.id == other.id).values(started_at=clock.now() - timedelta(hours=3))
        )
        _db.session.commit()
        taken_over = run_recorded(spec, trigger=JobTrigger.SCHEDULE, task_id="this-one")
        assert taken_over.outcome == JobOutcome.SUCCEEDED and taken_over.counts["registrations"] == 1
        abandoned = _db.session.get(JobRun, other.id, populate_existing=True)
        assert abandoned.outcome == JobOutcome.FAILED and abandoned.running_lock is None
        assert abandoned.error.startswith("Abandoned: the worker running it stopped")


def test_the_outbox_delivery_may_run_beside_another_one(app):
    """Not exclusive: each message is locked as it is sent, so a delivery never waits for a slow one."""
    spec = load_tasks()["outbox.deliver"]
    with app.app_context():
        _db.session.add(JobRun(job=spec.name, trigger=JobTrigger.SCHEDULE, counts={}))
        _db.session.commit()
        assert run_recorded(spec, trigger=JobTrigger.COMMIT).outcome == JobOutcome.SUCCEEDED


# --- Failures ------------------------------------------------------------------------------------------


def test_a_transient_failure_is_recorded_and_the_job_retried(queue_app, monkeypatch):
    monkeypatch.setattr(runs, "RETRY_BACKOFF", (1,))  # seconds, rather than the production pauses
    _flaky_attempts.clear()
    with worker(queue_app):
        with queue_app.app_context():
            task_id = enqueue(FLAKY.name, trigger=JobTrigger.SCHEDULE)
        failed, succeeded = runs_of(queue_app, FLAKY.name, 2)

    assert (failed.outcome, failed.attempt) == (JobOutcome.FAILED, 1)
    assert failed.error == "ConnectionRefusedError: the server is not up yet Retrying in 1 second (attempt 2)."
    assert (succeeded.outcome, succeeded.attempt, succeeded.counts) == (JobOutcome.SUCCEEDED, 2, {"done": 1})
    assert failed.task_id == succeeded.task_id == task_id
    assert len(_flaky_attempts) == 2


def test_a_wrong_setting_fails_the_job_once_with_its_reason_and_is_not_retried(queue_app, monkeypatch):
    monkeypatch.setattr(runs, "RETRY_BACKOFF", (1,))
    queue_app.config["SMTP_URL"] = "http://mail.example"
    with worker(queue_app):
        with queue_app.app_context():
            enqueue("outbox.deliver", trigger=JobTrigger.SCHEDULE)
        [failed] = runs_of(queue_app, "outbox.deliver")
        time.sleep(2.5)  # longer than a retry would wait
        assert len(finished_runs(queue_app, "outbox.deliver")) == 1

    assert failed.outcome == JobOutcome.FAILED and failed.attempt == 1
    assert failed.error == "MailSettingsError: SMTP_URL must start with smtp:// or smtps://, not http://."


# --- The embedded broker, worker and beat in a process of their own (make run, the Procfile) ----------


def test_the_worker_with_its_beat_runs_jobs_sent_through_the_embedded_broker(database_url, tmp_path):
    instance = tmp_path / "instance"
    environment = {
        **os.environ,
        "CLOUDCODES_ENV": "development",
        "CLOUDCODES_DATABASE_URL": database_url,
        "CLOUDCODES_INSTANCE_PATH": str(instance),
        "C_FORCE_ROOT": "1",  # CI containers run as root
    }
    environment.pop("CLOUDCODES_BROKER_URL", None)
    command = [sys.executable, "-m", "celery", "-A", "cloudcodes.jobs.worker:celery", "worker", "-B"]
    command += ["--pool", "solo", "--loglevel", "WARNING", "--without-mingle", "--without-gossip"]
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    app = make_test_app(database_url, ENV="development", BROKER_URL=f"filesystem://{instance / 'broker'}")
    try:
        with app.app_context():
            enqueue("checkouts.expire", trigger=JobTrigger.MANUAL)
        [run] = runs_of(app, "checkouts.expire", timeout=60)
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode(errors="replace")
        with app.app_context():
            _db.engine.dispose()

    assert run.outcome == JobOutcome.SUCCEEDED and run.counts == {"checkouts": 0}, output
    assert (instance / "celerybeat-schedule").exists() or list(instance.glob("celerybeat-schedule*")), output
    assert not list((instance / "broker" / "queue").iterdir())  # taken, and nothing left behind
    assert not list((instance / "broker" / "claimed").iterdir())


def test_the_beat_schedule_has_every_job_at_its_time():
    schedule = beat_schedule()
    assert set(schedule) == ALL_JOBS
    assert schedule["outbox.deliver"]["schedule"].run_every == timedelta(minutes=1)
    assert schedule["outbox.deliver"]["options"]["expires"] > 0  # a missed sweep is not run late
    assert schedule["program.qualify"]["schedule"] == crontab(minute=30, hour=0, day_of_month=1, month_of_year=1)
    assert {entry["kwargs"]["trigger"] for entry in schedule.values()} == {"schedule"}
    for name in ("domains.expire", "program.upgrades", "jobs.prune", "notices.reminders", "notices.digest"):
        entry = schedule[name]["schedule"]
        assert len(entry.hour) == 1 and len(entry.minute) == 1 and len(entry.day_of_month) == 31  # daily


# --- The console's Jobs page ---------------------------------------------------------------------------


def test_the_jobs_page_shows_each_jobs_last_run_and_the_recent_failures(app):
    admin = staff_client(app, make_staff(app, role="admin"))
    with app.app_context():
        spec = load_tasks()["domains.expire"]
        run_recorded(spec, trigger=JobTrigger.SCHEDULE)
        started = clock.now() - timedelta(hours=1)
        _db.session.add(
            JobRun(
                job="outbox.deliver",
                trigger=JobTrigger.SCHEDULE,
                outcome=JobOutcome.FAILED,
                started_at=started,
                finished_at=started + timedelta(seconds=4),
                counts={},
                error="OperationalError: could not connect to server",
            )
        )
        _db.session.commit()

    page = admin.get(JOBS)
    html = unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    for title in (spec.title for spec in load_tasks().values()):
        assert title in html
    assert "registrations 0, codes 0" in html and "Succeeded" in html
    assert "OperationalError: could not connect to server" in html and "4 seconds" in html
    assert "Recent failures" in html and "The latest 1 failed run" in html
    assert "every minute" in html and "daily at 00:15 UTC" in html and "on 1 January at 00:30 UTC" in html
    assert "Not run yet" in html
    assert html.count(">Run now<") == len(ALL_JOBS)
    assert 'href="/admin/jobs"' in admin.get("/admin/").get_data(as_text=True)


def test_run_now_sends_the_job_to_a_worker_and_is_audited(queue_app):
    person = make_staff(queue_app, role="admin")
    admin = staff_client(queue_app, person)
    response = submit(admin, f"{JOBS}/domains.expire/run", {}, page=JOBS)
    assert response.status_code == 303 and response.headers["Location"] == JOBS
    assert "is queued: a worker runs it in a moment" in admin.get(JOBS).get_data(as_text=True)

    with worker(queue_app):
        [run] = runs_of(queue_app, "domains.expire")
    assert run.trigger == JobTrigger.MANUAL and run.outcome == JobOutcome.SUCCEEDED
    with queue_app.app_context():
        event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "job.run_requested"))
        assert event.actor_id == person.id
        assert event.details["job"] == "domains.expire" and event.details["how"] == "queued"
        assert event.details["task_id"] == run.task_id


def test_run_now_with_the_broker_down_runs_the_job_here_and_says_so(database_url):
    app = make_test_app(database_url, BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    registration_id = expired_registration(app)
    admin = staff_client(app, make_staff(app, role="admin"))

    response = submit(admin, f"{JOBS}/domains.expire/run", {}, page=JOBS)
    assert response.status_code == 303
    html = admin.get(JOBS).get_data(as_text=True)
    assert "The task broker cannot be reached" in html and "ran here, in the web server" in html
    assert "it succeeded (registrations 1, codes 1)" in html
    assert "Start the broker (or correct BROKER_URL)" in html
    with app.app_context():
        [run] = _db.session.scalars(select(JobRun)).all()
        assert (run.job, run.trigger, run.outcome, run.task_id) == (
            "domains.expire",
            JobTrigger.MANUAL,
            JobOutcome.SUCCEEDED,
            None,
        )
        assert _db.session.get(DomainRegistration, registration_id).status == "expired"
        event = _db.session.scalar(select(AuditEvent).where(AuditEvent.action == "job.run_requested"))
        assert event.details["how"] == "in the web process"
        _db.session.remove()
        _db.engine.dispose()


def test_managers_see_the_jobs_but_may_not_run_one_and_partners_never_reach_the_page(app):
    manager = staff_client(app, make_staff(app, role="manager"))
    html = manager.get(JOBS).get_data(as_text=True)
    assert "Deliver the queued e-mail" in html and "Run now" not in html
    page = manager.get(JOBS).get_data(as_text=True)
    refused = manager.post(f"{JOBS}/domains.expire/run", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 403

    with app.app_context():
        make_partner("Bravo", owner_email="owner@bravo.example")
    partner = app.test_client()
    assert login(partner, "owner@bravo.example").status_code == 303
    assert partner.get(JOBS).status_code == 404
    assert submit(partner, f"{JOBS}/domains.expire/run", {}, page="/dashboard/").status_code == 404
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(JobRun)) == 0
        assert _db.session.scalar(select(func.count()).where(AuditEvent.action == "job.run_requested")) == 0


def test_run_now_of_a_job_that_does_not_exist_is_404(app):
    admin = staff_client(app, make_staff(app, role="admin"))
    page = admin.get(JOBS).get_data(as_text=True)
    assert admin.post(f"{JOBS}/no.such.job/run", data={"csrf_token": csrf_token(page)}).status_code == 404


# --- /healthz -------------------------------------------------------------------------------------------


def test_healthz_is_degraded_when_the_scheduler_missed_its_beat(app, client):
    assert client.get("/healthz").json["status"] == "ok"  # a fresh install: the first beat is not due yet

    with time_machine.travel(clock.now() + timedelta(minutes=4)):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json["status"] == "degraded" and response.json["database"] == "ok"
        [reason] = response.json["reasons"]
        assert "the scheduler missed its beat" in reason and "since this server started 4 minutes ago" in reason

        with app.app_context():  # a delivery asked for by a commit is no beat: the scheduler sends those
            _db.session.add(JobRun(job="outbox.deliver", trigger=JobTrigger.COMMIT, counts={}))
            _db.session.commit()
        assert client.get("/healthz").json["status"] == "degraded"

        with app.app_context():
            _db.session.add(
                JobRun(
                    job="outbox.deliver",
                    trigger=JobTrigger.SCHEDULE,
                    started_at=clock.now() - timedelta(minutes=1),
                    counts={},
                )
            )
            _db.session.commit()
        answer = client.get("/healthz").json
        assert answer == {"status": "ok", "database": "ok", "schema": answer["schema"]} and answer["schema"]

    with time_machine.travel(clock.now() + timedelta(minutes=9)):
        response = client.get("/healthz")
        assert response.status_code == 200 and response.json["status"] == "degraded"
        assert "the every-minute outbox sweep last started 6 minutes ago" in response.json["reasons"][0]


def test_healthz_is_degraded_when_the_broker_is_unreachable(database_url):
    port = free_port()
    app = make_test_app(database_url, BROKER_URL=f"redis://127.0.0.1:{port}/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "degraded" and response.json["schema"]
    [reason] = response.json["reasons"]
    assert reason.startswith(f"the task broker redis://127.0.0.1:{port}/0 is unreachable")
    with app.app_context():
        _db.engine.dispose()


def test_healthz_is_ok_with_a_reachable_broker(queue_app):
    assert queue_app.test_client().get("/healthz").json["status"] == "ok"


# --- /metrics ---------------------------------------------------------------------------------------------


def test_metrics_show_the_queue_depth_the_failures_and_each_jobs_last_success(queue_app):
    with queue_app.app_context():
        run_recorded(load_tasks()["checkouts.expire"], trigger=JobTrigger.SCHEDULE)
        _db.session.add(
            JobRun(job="domains.expire", trigger=JobTrigger.SCHEDULE, outcome=JobOutcome.FAILED, counts={}, error="x")
        )
        _db.session.commit()
        enqueue("jobs.prune", trigger=JobTrigger.MANUAL)  # waits: no worker runs here

    text = queue_app.test_client().get("/metrics").get_data(as_text=True)
    assert "cloudcodes_job_queue_depth 1.0" in text
    assert 'cloudcodes_job_failures_last_day{job="domains.expire"} 1.0' in text
    assert 'cloudcodes_job_last_success_timestamp_seconds{job="checkouts.expire"}' in text
    assert 'cloudcodes_job_last_success_timestamp_seconds{job="domains.expire"}' not in text
