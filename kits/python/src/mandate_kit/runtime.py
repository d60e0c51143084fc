"""Starting and stopping (docs/contract.md, "A component in another language"): open the
store, connect, make sure of the streams, start the relay, the service and the consumers,
prove the service reachable — then run until SIGTERM or SIGINT: finish the batch in hand,
stop serving, publish the outbox, close the store, drain the connection, exit 0. With
`MANDATE_METRICS` set, the metrics and probes listener (`listener.py`) is bound before
anything starts (a port taken: exit 1) and stopped last, before the store closes. Exit 1 when
it cannot start or a loop fails for good (its supervisor restarts it); `Component.main`
reads the environment (2 on a configuration error) and sets up the logs (stderr)."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Optional

from mandate_client.strict import Contract

from . import reading, service, streams
from .admin import Admin
from .config import Config
from .connect import ConnectFailed, connect
from .consume import Consumer
from .listener import CannotListen, Listener, serve
from .observed import Observed
from .relay import Relay
from .shared import Shared, log
from .store import Store, StoreLocked

if TYPE_CHECKING:
    from .component import Component

# How long a stop may take to publish what is left in the outbox.
DRAIN_AT_STOP = 10.0


async def run(component: "Component", config: Config, stop: Optional[asyncio.Event] = None) -> int:
    """Runs `component` until SIGTERM or SIGINT — or until `stop` is set (a test running it
    in-process) — and returns its exit code."""
    try:
        contract = Contract.find()
        schemas = reading.schemas(contract, component.handlers)
        service.request_schemas(component, contract)
        store = Store(config.store_dir, component.tables, component.state_tables)
    except (FileNotFoundError, StoreLocked) as err:
        log.error("cannot start: %s", err)
        return 1
    try:
        nc = await connect(config)
    except ConnectFailed as err:
        log.error("cannot start: %s", err)
        store.close()
        return 1
    try:
        return await _serve(component, config, contract, schemas, store, nc, stop)
    finally:
        store.close()
        if not nc.is_closed:
            await nc.close()


async def _serve(
    component: "Component", config: Config, contract: Contract, schemas, store: Store, nc, stop: Optional[asyncio.Event]
) -> int:
    js = nc.jetstream(timeout=5.0)
    try:
        await streams.ensure_own(js, component.name, config.stream_replicas)
    except Exception as err:
        log.error("cannot start: ensuring stream %s: %s", streams.stream_of(component.name), err)
        return 1
    await streams.ensure_dead_letters(js, config.stream_replicas)
    relay = Relay(store, js)
    shared = Shared(component=component, config=config, store=store, nc=nc, js=js, schemas=schemas, relay=relay)
    shared.consumers = [Consumer(shared, stream) for stream in component.sources]
    listener: Optional[Listener] = None
    if config.metrics is not None:
        try:
            listener = serve(config.metrics, component.name, shared.metrics, Observed(shared, asyncio.get_running_loop()))
        except CannotListen as err:
            log.error("cannot start: %s", err)
            return 1
    try:
        return await _run(component, contract, shared, stop)
    finally:
        if listener is not None:
            await listener.stop()


async def _run(component: "Component", contract: Contract, shared: Shared, stop: Optional[asyncio.Event]) -> int:
    nc, relay, store = shared.nc, shared.relay, shared.store
    if stop is None:  # the process itself: the signals stop it
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    relay_stop = asyncio.Event()
    relay_task = asyncio.create_task(_relay(shared, relay_stop))
    svc = await service.start(shared, contract, Admin(shared).handlers())
    for consumer in shared.consumers:
        consumer.start()
    # "Started" means reachable: a round trip through our own service proves the server has
    # registered its subscriptions.
    await nc.request(f"$SRV.PING.{component.name}", b"", timeout=5.0)
    log.info("started: consuming %s", ", ".join(component.handlers) or "nothing")

    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(shared.failed.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()
    log.info("stopping: %s", shared.failure or "signalled")

    for consumer in shared.consumers:
        await consumer.stop()
    await svc.stop()
    drained = await relay.drain(DRAIN_AT_STOP)
    if not drained:
        log.warning("stopped with %d outbox entries unpublished (they go at the next start)", store.outbox_depth())
    relay_stop.set()
    await relay_task
    await nc.drain()
    log.info("stopped")
    # Stopped when asked: 0, even with entries left in the outbox (they are committed, and go
    # at the next start). A loop that failed for good: 1, so that a supervisor restarts it.
    return 1 if shared.failure else 0


async def _relay(shared: Shared, stop: asyncio.Event) -> None:
    try:
        await shared.relay.run(stop)
    except Exception as err:  # the store failed: stop the process
        log.exception("the outbox relay stopped")
        shared.fail(f"the outbox relay stopped: {type(err).__name__}: {err}")
