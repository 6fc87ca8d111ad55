"""Logs, request ids, metrics and error reporting for operators.

Logs: every record of the process goes to stderr, one JSON object a line in production
(``LOG_FORMAT``: ``json`` or ``text``; unset, JSON in production and text otherwise), with the
request id when it was written during a request. At the end of each request one line says what
was answered: method, path (no query string, secret tokens masked), status, duration, request id,
the user's id when one was logged in, and the client's address. Nothing else about people (no
e-mail addresses, no form data) is written.

Request ids: taken from an incoming ``X-Request-ID`` when it is a plain token (so a proxy's id
carries through), generated otherwise; sent back in ``X-Request-ID`` on every answer and shown
on the error pages as the reference to quote.

Metrics: ``/metrics`` in the Prometheus text format, for the addresses in
``METRICS_ALLOWED_NETWORKS`` only (a 404 for everyone else). Request counts and latencies come
from prometheus-flask-exporter, labelled by route template and status; under gunicorn they are
shared between the workers through ``PROMETHEUS_MULTIPROC_DIR`` (see ``gunicorn.conf.py``).
Values read at scrape time (the outbox backlog, queue depth...) are registered by the feature
that owns them with one call::

    observability.register_gauge("cloudcodes_outbox_messages", "Messages in the outbox, by status.",
                                 outbox_backlog, label="status")

Errors: ``SENTRY_DSN`` set, exceptions are reported to Sentry, without personal data.

A foundation module: it imports no feature package.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Request, Response, abort, current_app, g, has_request_context, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_flask_exporter import PrometheusMetrics
from sqlalchemy import exc as sqlalchemy_errors
from sqlalchemy import inspect as sqlalchemy_inspect

from cloudcodes.config import ConfigError
from cloudcodes.extensions import csrf, db, limiter

REQUEST_ID_HEADER = "X-Request-ID"
# What an incoming id may be to be kept: short, and nothing a log line or a header could be split by.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# View arguments that are secrets in the address (a password reset link, an application's status
# page): the request line writes "[redacted]" in their place.
SECRET_VIEW_ARGS = frozenset({"token"})
REDACTED = "[redacted]"
METRICS_PATH = "/metrics"
LOG_FORMATS = ("json", "text")

request_log = logging.getLogger("cloudcodes.requests")
log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Set up logging, request ids, /metrics and Sentry for ``app``."""
    configure_logging(log_format(app))
    _register_request_hooks(app)
    _register_metrics(app)
    _init_sentry(app)


# --- Logs ---------------------------------------------------------------------------------------


def log_format(app: Flask) -> str:
    configured = app.config.get("LOG_FORMAT")
    if not configured:
        return "json" if app.config["ENV"] == "production" else "text"
    chosen = str(configured).strip().lower()
    if chosen not in LOG_FORMATS:
        raise ConfigError(
            f"CLOUDCODES_LOG_FORMAT must be json or text (or unset: JSON in production, text otherwise); "
            f"it is {configured!r}."
        )
    return chosen


def current_request_id() -> str | None:
    """The id of the request being answered; None outside a request (a command, a job)."""
    if not has_request_context():
        return None
    request_id = g.get("request_id")
    if request_id is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_id = request_id
    return request_id


class RequestIdFilter(logging.Filter):
    """Gives every record a ``request_id`` attribute: the current request's, or None."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


# The attributes every LogRecord has; the others were given with ``extra=`` and go in the JSON.
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "request_label",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, the ``extra`` fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For a developer's terminal: time, level, logger, [request id] and the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_label)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_label = getattr(record, "request_id", None) or "-"
        return super().format(record)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is written, not when the handler was made
    (so a test's or a command runner's capture of stderr sees the lines, and a closed one never breaks it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(chosen_format: str) -> None:
    """One handler on the root logger, so the app's records and those of its libraries come out alike.

    Called again (another app in the same process, as in the tests), it replaces its own handler.
    The app's loggers (``cloudcodes.*``) write from INFO, the libraries' from WARNING.
    """
    from flask.logging import default_handler

    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "cloudcodes", False)]:
        root.removeHandler(handler)
    handler = StderrHandler()
    handler.cloudcodes = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if chosen_format == "json" else TextFormatter())
    root.addHandler(handler)
    app_logger = logging.getLogger("cloudcodes")
    app_logger.removeHandler(default_handler)  # Flask's own would write each record a second time
    if app_logger.level == logging.NOTSET:
        app_logger.setLevel(logging.INFO)


def loggable_path() -> str:
    """The path answered, without the query string, with the secrets it carries masked."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if name in SECRET_VIEW_ARGS and isinstance(value, str) and value:
            path = path.replace(value, REDACTED)
    return path


def logged_in_user_id() -> int | None:
    """The id of the user the request loaded, if any; never loads one (no query for the log line)."""
    user = g.get("_login_user")  # where Flask-Login keeps the user once something asked for it
    if user is None or getattr(user, "is_anonymous", True):
        return None
    state = sqlalchemy_inspect(user, raiseerr=False)
    identity = state.identity if state is not None else None  # kept even once its attributes expired
    return identity[0] if identity else None


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def start_request() -> None:
        g.request_started = time.perf_counter()
        request_id = current_request_id()
        if current_app.extensions.get("cloudcodes.sentry"):
            import sentry_sdk

            sentry_sdk.set_tag("request_id", request_id)

    @app.after_request
    def finish_request(response: Response) -> Response:
        # Registered first, so it runs last: it sees the answer as it leaves.
        request_id = current_request_id() or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        path = loggable_path()
        request_log.info(
            "%s %s %s %s ms",
            request.method,
            path,
            response.status_code,
            duration_ms,
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": logged_in_user_id(),
                "remote_addr": request.remote_addr,
            },
        )
        return response

    def log_exception(exc_info: Any) -> None:
        """Flask's, with the path masked like the request line's (its message names the raw path)."""
        app.logger.error("Unhandled exception on %s %s", request.method, loggable_path(), exc_info=exc_info)

    app.log_exception = log_exception  # type: ignore[method-assign]
    app.jinja_env.globals["request_id"] = current_request_id


# --- Metrics ------------------------------------------------------------------------------------


GaugeValue = float | int | Mapping[str, float | int]


@dataclass(frozen=True)
class ScrapeTimeGauge:
    name: str
    help: str
    callback: Callable[[], GaugeValue]
    label: str | None


_gauges: dict[str, ScrapeTimeGauge] = {}


def register_gauge(name: str, help: str, callback: Callable[[], GaugeValue], *, label: str | None = None) -> None:
    """Adds a gauge to /metrics whose value ``callback()`` reads at each scrape, in the app context.

    ``callback`` returns a number, or with ``label`` a mapping from that label's values to numbers
    (``{"queued": 3, "failed": 1}``). Registering a name again replaces it. A callback that fails
    (the database is down) leaves its gauge out of that scrape and logs a warning; the rest is served.
    """
    _gauges[name] = ScrapeTimeGauge(name, help, callback, label)


class ScrapeTimeGauges:
    """A Prometheus collector of the registered gauges."""

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: the values need the database

    def collect(self) -> Iterator[Metric]:
        for gauge in sorted(_gauges.values(), key=lambda gauge: gauge.name):
            try:
                yield self._read(gauge)
            except Exception:  # one unreadable gauge must not cost the whole scrape
                log.warning("Gauge %s could not be read for /metrics.", gauge.name, exc_info=True)
                _discard_session()

    @staticmethod
    def _read(gauge: ScrapeTimeGauge) -> Metric:
        value = gauge.callback()
        family = GaugeMetricFamily(gauge.name, gauge.help, labels=[gauge.label] if gauge.label else None)
        if gauge.label:
            if not isinstance(value, Mapping):
                raise TypeError(f"{gauge.name} has a label, so its callback must return a mapping, not {value!r}")
            for label_value, number in sorted(value.items()):
                family.add_metric([str(label_value)], float(number))
        else:
            if isinstance(value, Mapping):
                raise TypeError(f"{gauge.name} has no label, so its callback must return a number")
            family.add_metric([], float(value))
        return family


def _discard_session() -> None:
    try:
        db.session.rollback()
    except sqlalchemy_errors.SQLAlchemyError:
        db.session.close()


def route(request: Request) -> str:
    """The label of a request in the request metrics: its route template, so the series stay few."""
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def multiprocess_directory() -> str | None:
    """Where gunicorn's workers share their counts (set before the app is imported, see gunicorn.conf.py)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def allowed_networks(setting: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    values: Iterable[Any] = setting if isinstance(setting, list | tuple) else str(setting or "").split(",")
    networks = []
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(
                f"CLOUDCODES_METRICS_ALLOWED_NETWORKS: {text!r} is not an address or a network. Give the "
                "addresses allowed to read /metrics, separated by commas, for example 127.0.0.0/8,10.0.0.0/8."
            ) from None
    return networks


def _register_metrics(app: Flask) -> None:
    networks = allowed_networks(app.config.get("METRICS_ALLOWED_NETWORKS"))
    directory = multiprocess_directory()
    if directory:
        # gunicorn.conf.py makes it for the web server; a command or a worker run with the same
        # environment may come first (the deployment's `flask db upgrade`), and must not fail on it.
        os.makedirs(directory, exist_ok=True)
    # Each app its own registry (the tests make many apps in one process). Under gunicorn the
    # values live in PROMETHEUS_MULTIPROC_DIR's files instead, and a scrape reads every worker's.
    registry = CollectorRegistry()
    PrometheusMetrics(
        app,
        path=None,  # served by metrics() below, behind the address check
        registry=registry,
        group_by=route,
        excluded_paths=[f"^{re.escape(METRICS_PATH)}$"],
    )
    app.extensions["cloudcodes.metrics"] = {"registry": registry, "networks": networks}
    app.add_url_rule(METRICS_PATH, "metrics", metrics)


def _may_read_metrics(networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


@csrf.exempt
@limiter.exempt
def metrics() -> Response:
    """The Prometheus scrape; a 404 for addresses outside METRICS_ALLOWED_NETWORKS, as if it were not there."""
    state = current_app.extensions["cloudcodes.metrics"]
    if not _may_read_metrics(state["networks"]):
        abort(404)
    scrape = CollectorRegistry()
    if multiprocess_directory():
        MultiProcessCollector(scrape)
    else:
        scrape.register(state["registry"])  # a registry collects like any collector
    scrape.register(ScrapeTimeGauges())
    encode, content_type = choose_encoder(request.headers.get("Accept"))
    response = Response(encode(scrape), headers={"Content-Type": content_type})
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Sentry -------------------------------------------------------------------------------------


# Variable and field names whose values Sentry must not receive (matched whole, in any letter case).
PERSONAL_VARIABLES = ("email", "to_address", "reply_to", "to_name", "from_name", "full_name", "contact_email")


def _without_personal_data(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Query strings may carry e-mail addresses or tokens; the path says enough."""
    request_data = event.get("request")
    if isinstance(request_data, dict):
        request_data.pop("query_string", None)
        request_data.pop("cookies", None)
        request_data.pop("data", None)
        url = request_data.get("url")
        if isinstance(url, str) and has_request_context():
            request_data["url"] = url.replace(request.path, loggable_path())
    return event


def _init_sentry(app: Flask) -> None:
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    options: dict[str, Any] = {}
    if "data_collection" not in sentry_sdk.consts.DEFAULT_OPTIONS:
        # Said explicitly to the SDKs that predate data_collection. Those that have it deprecate
        # send_default_pii, and leaving it out means the same there: no user, no IP address, no cookies.
        options["send_default_pii"] = False
    sentry_sdk.init(
        dsn=str(dsn),
        integrations=[FlaskIntegration()],
        environment=app.config["ENV"],
        max_request_body_size="never",  # no form data: it holds names and e-mail addresses
        # Also the local variables of a traceback that name a person (e-mail addresses, names).
        event_scrubber=EventScrubber(
            denylist=[*DEFAULT_DENYLIST, *PERSONAL_VARIABLES], recursive=True, send_default_pii=False
        ),
        before_send=_without_personal_data,
        **options,
    )
    app.extensions["cloudcodes.sentry"] = True
