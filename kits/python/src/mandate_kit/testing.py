"""Testing a component against a real nats-server, as the Rust kit's tests do (no mocks):

    class Runs(unittest.IsolatedAsyncioTestCase):
        async def test_it_counts(self):
            async with NatsServer() as server, running(component, server), Bus(server) as bus:
                await bus.publish("orders.placed.v1", {...})
                reply = await bus.call("tally.count.v1", {...})

`NatsServer` starts the repository's `.tools/bin/nats-server` (`scripts/install-nats-server`;
or `$NATS_SERVER_BIN`) with JetStream on a free port in a temporary folder; `running` runs
the component in-process until the block ends, with its store in a temporary folder, and
fails when it does not stop cleanly; `Bus` publishes events with the contract's envelope and
calls operations, as another component or a client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Mapping, Optional

import msgpack
import nats
import nats.errors
import nats.js.errors
from mandate_client import envelope
from nats.js import api

from .component import Component, stream_of
from .config import Config
from .reactions import now_rfc3339


class NatsServer:
    """A nats-server with JetStream, for one test."""

    def __init__(self) -> None:
        self.url = ""
        self._process: Optional[asyncio.subprocess.Process] = None
        self._dir: Optional[tempfile.TemporaryDirectory] = None

    async def __aenter__(self) -> "NatsServer":
        binary = nats_server_bin()
        self._dir = tempfile.TemporaryDirectory(prefix="nats-")
        port = _free_port()
        self._process = await asyncio.create_subprocess_exec(
            str(binary),
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-sd",
            self._dir.name,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self.url = f"nats://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return self
            except OSError:
                if time.monotonic() > deadline or self._process.returncode is not None:
                    await self.__aexit__(None, None, None)
                    raise RuntimeError(f"{binary} did not start listening on port {port}") from None
                await asyncio.sleep(0.05)

    async def __aexit__(self, *_exc: Any) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()
        if self._dir is not None:
            self._dir.cleanup()


def nats_server_bin() -> Path:
    """`$NATS_SERVER_BIN`, else `.tools/bin/nats-server` of the repository (`$MANDATE_REPO`,
    or the first folder above the current one or above this package that has one)."""
    given = os.environ.get("NATS_SERVER_BIN")
    if given:
        return Path(given)
    places = [Path(os.environ["MANDATE_REPO"])] if os.environ.get("MANDATE_REPO") else []
    places += [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]
    for place in places:
        candidate = place / ".tools" / "bin" / "nats-server"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "no nats-server: run scripts/install-nats-server in the repository (it installs .tools/bin/nats-server), "
        "or set NATS_SERVER_BIN"
    )


@contextlib.asynccontextmanager
async def running(
    component: Component, server: NatsServer, data_dir: Optional[Path] = None, **config: object
) -> AsyncIterator[None]:
    """`component` running in-process against `server` (anonymous, as under a server without
    accounts), its store under `data_dir` (a temporary folder when not given), with `config`
    for the other fields of its `Config`; ready — its service answering — when the block
    starts, stopped and checked when it ends."""
    from . import runtime

    with tempfile.TemporaryDirectory(prefix=f"{component.name}-") as temporary:
        base = data_dir or Path(temporary)
        config = Config(
            name=component.name,
            servers=[server.url],
            user=None,
            password=None,
            store_dir=base / component.name,
            **config,  # type: ignore[arg-type]
        )
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(component, config, stop))
        try:
            await _until_answering(component.name, server.url, task)
            yield
        finally:
            stop.set()
            code = await asyncio.wait_for(task, 30)
        if code != 0:
            raise AssertionError(f"{component.name} stopped with exit code {code} (its log says why)")


async def _until_answering(name: str, url: str, task: asyncio.Task) -> None:
    nc = await nats.connect(url)
    try:
        deadline = time.monotonic() + 30
        while True:
            if task.done():
                raise AssertionError(f"{name} stopped before it answered (exit code {task.result()})")
            try:
                await nc.request(f"svc.{name}.admin.status", b"", timeout=0.5)
                return
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} did not answer its admin status within 30 s") from None
                await asyncio.sleep(0.05)
    finally:
        await nc.close()


class CallFailed(Exception):
    """A typed error reply: its code and message."""

    def __init__(self, operation: str, code: int, message: str):
        super().__init__(f"{operation}: {code} {message}")
        self.code = code
        self.message = message


class Bus:
    """The bus as another component or a client sees it: publishing events with the
    contract's envelope (creating the owner's stream, as the owner would), calling
    operations, reading the admin status."""

    def __init__(self, server: NatsServer):
        self._url = server.url
        self.nc: Any = None

    async def __aenter__(self) -> "Bus":
        self.nc = await nats.connect(self._url)
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.nc.close()

    async def publish(self, event_type: str, body: Mapping[str, Any], id: Optional[str] = None) -> str:
        """Publishes `body` as `<owner>.<event>.v<N>` (waiting for JetStream's ack); its `ce-id`."""
        owner = event_type.split(".")[0]
        js = self.nc.jetstream()
        stream = stream_of(owner)
        try:
            await js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(api.StreamConfig(name=stream, subjects=[f"evt.{owner}.>"]))
        id = id or str(uuid.uuid4())
        headers = {
            envelope.CE_SPECVERSION: "1.0",
            envelope.CE_ID: id,
            envelope.CE_SOURCE: owner,
            envelope.CE_TYPE: event_type,
            envelope.CE_TIME: now_rfc3339(),
            envelope.CE_DATACONTENTTYPE: envelope.CONTENT_TYPE,
            envelope.TRACEPARENT: f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
            envelope.CORRELATION_ID: id,
            envelope.NATS_MSG_ID: id,
        }
        await js.publish(f"evt.{event_type}", envelope.encode(body), headers=headers)
        return id

    async def call(self, operation: str, request: Mapping[str, Any], timeout: float = 5.0) -> Any:
        """The reply body of `operation`; `CallFailed` for a typed error."""
        reply = await self.nc.request(f"svc.{operation}", envelope.encode(request), timeout=timeout)
        code = envelope.header(reply.headers, envelope.SERVICE_ERROR_CODE)
        if code:
            raise CallFailed(operation, int(code), envelope.header(reply.headers, envelope.SERVICE_ERROR) or "")
        return msgpack.unpackb(reply.data)

    async def status(self, component: str) -> dict[str, Any]:
        reply = await self.nc.request(f"svc.{component}.admin.status", b"", timeout=5.0)
        return json.loads(reply.data)

    async def eventually(self, probe: Any, timeout: float = 10.0) -> Any:
        """Awaits `probe()` until it returns something true (a consumer applies events
        asynchronously); its last value at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            value = await probe()
            if value or time.monotonic() > deadline:
                return value
            await asyncio.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
