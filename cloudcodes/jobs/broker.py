"""The embedded broker: kombu's filesystem transport, made safe for several processes.

``make run`` (and any single host without ``BROKER_URL``) passes messages through files under
``<instance>/broker/``: the web server, the worker and the scheduler are separate processes, and
files need no server of their own. Kombu's own filesystem channel creates a message's file and then
writes it, so a worker polling at that moment can take an empty file; this channel writes under a
name the consumer ignores and renames it into place (atomic within a folder), and takes a message by
renaming it into ``claimed/`` (only one process can), reads it and deletes it, so nothing piles up.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

TRANSPORT = "cloudcodes.jobs.broker:Transport"
FOLDERS = ("queue", "claimed", "control")


def transport_options(folder: Path) -> dict[str, Any]:
    """The transport options for a broker kept in ``folder`` (created if missing)."""
    for name in FOLDERS:
        (folder / name).mkdir(parents=True, exist_ok=True)
    queue = str(folder / "queue")
    return {
        "data_folder_in": queue,
        "data_folder_out": queue,
        "processed_folder": str(folder / "claimed"),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.5,
    }


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")  # not a name ``_get`` takes
        try:
            with open(partial, "xb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add a message to {self.data_folder_out}: {exc}") from exc

    def _get(self, queue: str) -> Any:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.startswith(".") or name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except OSError:
                continue  # another process took it first
            try:
                with open(claimed, "rb") as file:
                    payload = file.read()
                os.remove(claimed)
            except OSError as exc:
                raise ChannelError(f"Cannot read the message {claimed}: {exc}") from exc
            return loads(bytes_to_str(payload))
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
    global_state = filesystem.virtual.BrokerState()
