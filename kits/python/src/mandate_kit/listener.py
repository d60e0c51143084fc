"""The one HTTP listener of a component: `/metrics` (the Prometheus/OpenMetrics text formats,
as the client asks), `/livez` and `/readyz` — the Rust kit's interface and JSON bodies
(docs/operate.md). Off by default; `MANDATE_METRICS=IP:PORT` turns it on.

It serves on a thread of its own, with the standard library's WSGI server and
`prometheus_client`'s WSGI app — both well kept and already here, where serving on the loop
would take an HTTP server library (aiohttp and its C extensions) for three paths. The thread
never touches the store or the consumers: what it reports is taken on the loop
(`observed.py`), and the counters it reads are the library's, which lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from socketserver import ThreadingMixIn
from typing import Any, Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.process_collector import ProcessCollector

from .metrics import Labelled, Metrics
from .observed import Observed
from .shared import log


class CannotListen(RuntimeError):
    """The address cannot be bound (a port taken, an address not of this host)."""


class Listener:
    """Serving until `stop()`; `address` is where (the port the system chose, for port 0)."""

    def __init__(self, server: WSGIServer, observed: Observed):
        self._server = server
        self._observed = observed
        self.address: tuple[str, int] = server.server_address[:2]
        self._thread = threading.Thread(target=server.serve_forever, name="metrics listener", daemon=True)
        self._thread.start()
        self._ticker = asyncio.create_task(self._tick(), name="outbox head sampler")

    async def _tick(self) -> None:
        # The outbox head's age is measured by watching it (observed.OldestEntry).
        while True:
            self._observed.tick()
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        self._ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._ticker
        # `shutdown` waits for the serving loop to notice (up to its poll interval).
        await asyncio.to_thread(self._server.shutdown)
        self._server.server_close()


def serve(address: tuple[str, int], component: str, metrics: Metrics, observed: Observed) -> Listener:
    """Binds `address` and serves `metrics` and `observed` on it, every series labelled with
    `component`. Raises `CannotListen` saying which setting to change."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Labelled(component, ProcessCollector(registry=None)))
    registry.register(Labelled(component, metrics.registry))
    registry.register(Labelled(component, observed))
    ip, port = address
    server_class = _server_class(socket.AF_INET6 if ":" in ip else socket.AF_INET)
    try:
        server = make_server(ip, port, _app(registry, observed), server_class, _Quiet)
    except OSError as err:
        shown = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
        raise CannotListen(f"cannot listen for metrics on {shown}: {err.strerror or err} (change MANDATE_METRICS)") from None
    listener = Listener(server, observed)
    log.info("metrics and probes listening on %s:%d (/metrics, /livez, /readyz)", *listener.address)
    return listener


def _server_class(family: int) -> type[WSGIServer]:
    class Server(ThreadingMixIn, WSGIServer):
        address_family = family
        # A request's thread is not waited for at shutdown.
        daemon_threads = True

    return Server


class _Quiet(WSGIRequestHandler):
    """Prometheus scrapes every few seconds and orchestrators probe as often: no log line each."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


Respond = Callable[..., Any]


def _app(registry: CollectorRegistry, observed: Observed) -> Callable[[dict, Respond], Iterable[bytes]]:
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict, start_response: Respond) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/metrics":
            try:
                return metrics_app(environ, start_response)
            except Exception as err:  # noqa: BLE001 - a scrape that fails says why, the component goes on
                return _text(start_response, "503 Service Unavailable", f"cannot read the figures: {err!r}\n")
        if path not in ("/livez", "/readyz"):
            return _text(start_response, "404 Not Found", "not found: /metrics, /livez, /readyz\n")
        if method not in ("GET", "HEAD"):
            return _text(start_response, "405 Method Not Allowed", "GET only\n")
        if path == "/livez":
            # Alive: the process answers. A component that fails for good exits.
            return _json(start_response, "200 OK", {"alive": True})
        not_ready = observed.readiness()
        if not_ready:
            return _json(start_response, "503 Service Unavailable", {"ready": False, "not_ready": not_ready})
        return _json(start_response, "200 OK", {"ready": True})

    return app


def _json(start_response: Respond, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _text(start_response: Respond, status: str, text: str) -> list[bytes]:
    data = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]
