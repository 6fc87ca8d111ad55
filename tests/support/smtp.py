"""A real SMTP server on loopback for tests: ``with SmtpServer() as server: ... server.messages``.

``SmtpServer(refuse={"nobody@acme.example": "550 5.1.1 No such user"})`` answers RCPT TO for that
address with the given reply (a 5xx refuses it for good, a 4xx asks to try again later);
``refuse_data="554 5.6.0 Message refused"`` answers every message's content with that reply.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nothing listens on (until someone starts a server there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    peer: Any  # (host, port) of the client: the same for messages sent over one connection
    message: EmailMessage


class _Collector:
    def __init__(
        self, refuse: dict[str, str] | None = None, refuse_data: str | None = None, stall_first_rcpt: float = 0
    ) -> None:
        self.received: list[Received] = []
        self.refuse = {address.lower(): reply for address, reply in (refuse or {}).items()}
        self.refuse_data = refuse_data
        self.stall_first_rcpt = stall_first_rcpt
        self.stalling = threading.Event()  # set while the first RCPT TO waits for its answer

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.stall_first_rcpt:
            seconds, self.stall_first_rcpt = self.stall_first_rcpt, 0
            self.stalling.set()
            await asyncio.sleep(seconds)
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data:
            return self.refuse_data
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), session.peer, message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts.

    ``port`` lets a test point the app at a server that is down, then start it on the same port.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        refuse: dict[str, str] | None = None,
        refuse_data: str | None = None,
        stall_first_rcpt: float = 0,
    ) -> None:
        """``stall_first_rcpt``: the first RCPT TO waits that many seconds for its answer (a sender
        killed meanwhile delivers nothing); ``stalling`` is set once it does."""
        self.port = port or free_port()
        self._collector = _Collector(refuse, refuse_data, stall_first_rcpt)
        self.stalling = self._collector.stalling
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    @property
    def received(self) -> list[Received]:
        return self._collector.received

    @property
    def messages(self) -> list[EmailMessage]:
        return [received.message for received in self._collector.received]

    def start(self) -> SmtpServer:
        self._controller = Controller(self._collector, hostname=HOST, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
