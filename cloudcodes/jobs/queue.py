"""The Celery app, made from the Flask app's settings (Flask's own Celery pattern), and the broker it talks to.

Each task runs inside an app context of the Flask app its Celery app was made from. The broker is
``BROKER_URL`` (Redis in production); without it, the embedded broker (``cloudcodes.jobs.broker``,
files under ``<instance>/broker``) outside tests, and kombu's in-memory transport in tests, where
nothing consumes what is sent unless a test starts a worker with a broker of its own.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from celery import Celery, Task
from flask import Flask, current_app

from cloudcodes.jobs import broker

log = logging.getLogger(__name__)

BROKER_CHECK_TIMEOUT = 2  # seconds: /healthz and "Run now" must answer quickly with a dead broker
EMBEDDED = "filesystem://"
EMBEDDED_URL = "filesystem://localhost/"  # a host, or kombu warns that it assumes one


class BrokerUnavailable(RuntimeError):
    """The task could not be handed to the broker; the message says which one."""


def broker_settings(app: Flask) -> tuple[str, dict[str, Any]]:
    """The broker URL and the Celery settings that go with it."""
    url = str(app.config.get("BROKER_URL") or "")
    if not url:
        url = "memory://" if app.config["ENV"] == "test" else EMBEDDED
    if url.startswith(EMBEDDED):
        # filesystem:// keeps the messages under the instance folder; filesystem:///path in that folder.
        path = urlsplit(url).path
        folder = Path(path) if path not in ("", "/") else Path(app.instance_path) / "broker"
        return EMBEDDED_URL, {
            "broker_transport": broker.TRANSPORT,
            "broker_transport_options": broker.transport_options(folder),
            # Remote control broadcasts to every worker that ever ran; files would pile up for the gone ones.
            "worker_enable_remote_control": False,
        }
    if url.startswith(("redis://", "rediss://")):
        return url, {
            "broker_transport_options": {
                "socket_connect_timeout": BROKER_CHECK_TIMEOUT,
                # A task not acknowledged within this time (its worker died) is delivered again:
                # longer than the longest job may take (task_time_limit).
                "visibility_timeout": 2 * 60 * 60,
            }
        }
    return url, {}


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    url, settings = broker_settings(app)
    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(
        broker_url=url,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=BROKER_CHECK_TIMEOUT,
        task_ignore_result=True,  # runs are recorded in job_runs; nothing waits for a result
        result_backend=None,
        task_acks_late=True,  # a task whose worker is killed is delivered again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        task_soft_time_limit=50 * 60,
        task_time_limit=60 * 60,
        worker_hijack_root_logger=False,  # the app's own logging (cloudcodes.observability) stays
        beat_schedule_filename=str(Path(app.instance_path) / "celerybeat-schedule"),
        **settings,
    )
    celery_app.conf.update(app.config.get("CELERY") or {})
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def celery_of(app: Flask | None = None) -> Celery:
    return (app or current_app).extensions["celery"]


def enqueue(name: str, *, countdown: float | None = None, **kwargs: Any) -> str:
    """Hand the task ``name`` to the broker; its id. BrokerUnavailable when the broker cannot be reached.

    Sent once, without retries: a caller in a request must not wait for a broker that is down.
    """
    celery = celery_of()
    try:
        with celery.connection_or_acquire() as connection:
            connection.ensure_connection(max_retries=0, timeout=BROKER_CHECK_TIMEOUT)
            result = celery.send_task(name, kwargs=kwargs, countdown=countdown, retry=False, connection=connection)
    except Exception as error:
        raise BrokerUnavailable(
            f"The task broker ({_shown(celery.conf.broker_url)}) is unreachable: {error}"
        ) from error
    return str(result.id)


def broker_problem(app: Flask | None = None) -> str | None:
    """Why the broker cannot be reached, or None when it can (checked within a couple of seconds)."""
    celery = celery_of(app)
    url = _shown(celery.conf.broker_url)
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=BROKER_CHECK_TIMEOUT)
            if celery.conf.broker_transport == broker.TRANSPORT:
                connection.default_channel.basic_publish  # noqa: B018 - opening the channel checks the folders
    except Exception as error:  # noqa: BLE001 - any failure to connect is reported, whatever raised it
        return f"the task broker {url} is unreachable ({type(error).__name__}: {error})"
    return None


def queue_depth(app: Flask | None = None) -> int | None:
    """How many tasks wait in the default queue, or None when that cannot be told (broker down)."""
    celery = celery_of(app)
    try:
        with celery.connection_for_read() as connection:
            connection.ensure_connection(max_retries=0, timeout=BROKER_CHECK_TIMEOUT)
            try:
                with connection.channel() as channel:
                    return int(channel.queue_declare(celery.conf.task_default_queue, passive=True).message_count)
            except connection.channel_errors:
                return 0  # no worker declared the queue yet, and nothing was sent to it
    except Exception:  # noqa: BLE001 - an unreachable broker: nothing to count
        return None


def _shown(url: str | None) -> str:
    """The broker URL without its password, for messages and logs."""
    url = str(url or "")
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.partition(":")[0]
        rest = f"{user}:***@{host}" if user else f"***@{host}"
    return scheme + sep + rest
