"""What a component declares — the one place that says what it publishes, subscribes to and
serves, as `component()` does in a Rust component — and `main()`, which runs it.

A handler is a plain function of the open transaction and the event's body, strictly read
against the contract's JSON Schema; it changes the component's tables through `tx` and
returns the events it decides to publish (`Emit`). The kit applies it exactly once per
event, in the transaction that moves the watermark, and publishes what it returns through
the outbox. An operation's handler reads the store (`db`, the SQLite connection) and returns
the reply body; it raises `ServiceError` for a typed error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from .reactions import Emit
from .store import Tx

# A handler: the transaction and the event's body → the events to publish (or None).
Handler = Callable[[Tx, Mapping[str, Any]], Optional[Iterable[Emit]]]
# An operation: the store (read it; a query changes nothing) and the request → the reply.
Answer = Callable[[sqlite3.Connection, Mapping[str, Any]], Mapping[str, Any]]

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_TYPE = re.compile(r"^([a-z][a-z0-9-]*)\.([a-z][a-z0-9-]*)\.v([1-9][0-9]*)$")


@dataclass(frozen=True)
class Endpoint:
    """An operation served: `<component>.<op>.v<N>`, its answer, and the JSON Schema of its
    request (`None`: the contract's, `schemas/json/services/<operation>.request.json`)."""

    operation: str
    answer: Answer
    request: Optional[Mapping[str, Any]] = None

    @property
    def subject(self) -> str:
        return f"svc.{self.operation}"


def stream_of(owner: str) -> str:
    """The stream of an owner's events: `EVT_<OWNER>`, as the Rust kit names it (dashes kept:
    `EVT_ORDER-HISTORY`; the broker's permissions say so)."""
    return f"EVT_{owner.upper()}"


class Component:
    def __init__(
        self,
        name: str,
        *,
        version: str = "0.1.0",
        description: str = "",
        tables: str = "",
        state_tables: Sequence[str] = (),
        publishes: Sequence[str] = (),
    ):
        """`tables`: the SQL creating the component's tables (`CREATE TABLE IF NOT EXISTS`);
        `state_tables`: those a rebuild wipes (all of them, unless one is not derived from the
        streams); `publishes`: the event types its handlers may emit."""
        if not _NAME.match(name):
            raise ValueError(
                f"invalid component name {name!r}: lower-case letters, digits and dashes, starting with a letter"
            )
        for event_type in publishes:
            owner, _ = _parse_type(event_type)
            if owner != name:
                raise ValueError(f"{name} publishes only its own events ({name}.<event>.v<N>), not {event_type}")
        self.name = name
        self.version = version
        self.description = description or name
        self.tables = tables
        self.state_tables = tuple(state_tables)
        self.publishes = tuple(publishes)
        # Subject (`evt.<type>`) → its handler, in declaration order.
        self.handlers: dict[str, Handler] = {}
        self.endpoints: dict[str, Endpoint] = {}

    def on(self, event_type: str) -> Callable[[Handler], Handler]:
        """Declares `handler` for `<owner>.<event>.v<N>`, one of the contract's events."""
        owner, _ = _parse_type(event_type)
        subject = f"evt.{event_type}"

        def register(handler: Handler) -> Handler:
            if subject in self.handlers:
                raise ValueError(f"{self.name} handles {event_type} twice")
            self.handlers[subject] = handler
            return handler

        return register

    def serves(self, operation: str, request: Optional[Mapping[str, Any]] = None) -> Callable[[Answer], Answer]:
        """Declares the answer to `<component>.<op>.v<N>` (or `<op>.v<N>`); `request` is the
        JSON Schema its requests are read by, when the contract has none for it yet."""
        if not operation.startswith(f"{self.name}."):
            operation = f"{self.name}.{operation}"
        owner, op = _parse_type(operation)
        if owner != self.name:
            raise ValueError(f"{self.name} serves only its own operations, not {operation}")
        if op == "admin":
            raise ValueError("`admin` is the kit's own endpoint (status, rebuild, retry-set-aside)")

        def register(answer: Answer) -> Answer:
            if operation in self.endpoints:
                raise ValueError(f"{self.name} serves {operation} twice")
            self.endpoints[operation] = Endpoint(operation, answer, request)
            return answer

        return register

    @property
    def sources(self) -> dict[str, dict[str, Handler]]:
        """Per source stream, the subjects handled and their handlers."""
        found: dict[str, dict[str, Handler]] = {}
        for subject, handler in self.handlers.items():
            owner, _ = _parse_type(subject.removeprefix("evt."))
            found.setdefault(stream_of(owner), {})[subject] = handler
        return found

    @property
    def serves_list(self) -> list[str]:
        return list(self.endpoints)

    def manifest(self, start: Sequence[str] = ("./run",)) -> dict[str, Any]:
        """The `manifest.json` this declaration implies (docs/contract.md, "The manifest"),
        started by `start`: what tools, broker permissions and the compose file read without
        running the component. A test compares it with the committed file."""
        subscribes: dict[str, list[str]] = {}
        for stream, handlers in sorted(self.sources.items()):
            subscribes[stream] = sorted(subject.removeprefix("evt.") for subject in handlers)
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "publishes": list(self.publishes),
            "subscribes": subscribes,
            "serves": self.serves_list,
            "start": {"command": list(start)},
            # The process follows the metrics part of the process contract (listener.py):
            # `mandate prometheus-config` scrapes it, `mandate check` wants its listener on.
            "metrics": True,
        }

    def main(self, env: Mapping[str, str] = os.environ) -> None:
        """Runs the component until SIGTERM or SIGINT, then exits (docs/contract.md, "The
        process"): 0 when stopped, 1 when it cannot start or a loop failed, 2 on a
        configuration error. Logs go to stderr; `<NAME>_LOG` (e.g. `LOYALTY_LOG=debug`) sets
        their level."""
        from . import runtime
        from .config import Config, ConfigError

        logging.basicConfig(
            stream=sys.stderr,
            level=env.get(f"{self.name.upper().replace('-', '_')}_LOG", "INFO").upper(),
            format=f"%(asctime)s %(levelname)s {self.name}: %(message)s",
        )
        try:
            config = Config.from_env(self.name, env)
        except ConfigError as err:
            logging.getLogger("mandate_kit").error("%s", err)
            sys.exit(2)
        sys.exit(asyncio.run(runtime.run(self, config)))


def _parse_type(text: str) -> tuple[str, str]:
    """`<owner>.<name>.v<N>` → (owner, name)."""
    found = _TYPE.match(text)
    if not found:
        raise ValueError(f"{text!r} is not <owner>.<name>.v<major> (e.g. orders.completed.v1)")
    return found.group(1), found.group(2)
