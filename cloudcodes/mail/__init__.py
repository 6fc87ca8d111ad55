"""The mail outbox and its delivery."""

from cloudcodes.mail import metrics  # noqa: F401 - registers the outbox's gauges on /metrics
