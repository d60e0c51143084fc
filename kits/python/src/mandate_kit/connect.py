"""Connecting (docs/contract.md, "Connecting"): as the component's bus user, replies to its
own inbox prefix `_INBOX.<name>`, reconnecting for ever once connected; a server older than
2.10 is refused (it ignores multi-filter consumers and would deliver everything)."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.client import Client

from .config import Config
from .shared import log


class ConnectFailed(RuntimeError):
    pass


async def connect(config: Config) -> Client:
    async def error(err: Exception) -> None:
        # Permission violations arrive here: the broker refusing what the manifest implies.
        log.warning("nats: %s", err)

    connection: list[Client] = []

    async def disconnected() -> None:
        # A drain at stop disconnects too: that is not news.
        if connection and not (connection[0].is_draining or connection[0].is_closed):
            log.warning("disconnected from the server; reconnecting")

    async def reconnected() -> None:
        log.info("reconnected")

    options = dict(
        servers=config.servers,
        name=config.name,
        inbox_prefix=config.inbox_prefix,
        connect_timeout=2,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=error,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
    )
    if config.user:
        options.update(user=config.user, password=config.password or "")
    try:
        nc = await asyncio.wait_for(nats.connect(**options), config.connect_timeout_seconds)
    except asyncio.TimeoutError:
        raise ConnectFailed(
            f"cannot connect to {', '.join(config.servers)} within {config.connect_timeout_seconds:.0f}s "
            "(is the server up, and NATS_USER/NATS_PASSWORD right?)"
        ) from None
    connection.append(nc)
    version = nc.connected_server_version
    if (version.major, version.minor) < (2, 10):
        await nc.close()
        raise ConnectFailed(
            f"nats-server {version} is too old: 2.10 or later is needed (older servers ignore multi-filter consumers)"
        )
    log.info("connected to %s (nats-server %s)", nc.connected_url.netloc if nc.connected_url else "?", version)
    return nc
