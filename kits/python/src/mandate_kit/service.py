"""The component on the NATS services API (ADR-32; docs/contract.md, "Services"): the service
named after it, discoverable with `$SRV.PING/INFO/STATS`, with an endpoint per operation
(`loyalty-balance-v1` on `svc.loyalty.balance.v1`) and the admin endpoints (`admin.py`).
Requests are MessagePack maps read strictly; replies MessagePack maps; errors an empty body
with `Nats-Service-Error`, `Nats-Service-Error-Code` and `Mandate-Retryable`. While a rebuild
is under way the domain's operations answer 503 (retryable): the state is incomplete.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Optional

from mandate_client import envelope
from mandate_client.strict import Contract, ContractError, decode
from nats import micro
from nats.micro.request import ERROR_CODE_HEADER, ERROR_HEADER, Request
from nats.micro.service import Service

from .deadletter import one_line
from .metrics import EndpointMetrics
from .shared import Shared, log

if TYPE_CHECKING:
    from .component import Endpoint


class ServiceError(Exception):
    """A typed error reply."""

    def __init__(self, code: int, message: str, retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


Handler = Callable[[Request], Awaitable[bytes]]


def request_schemas(component, contract: Contract) -> dict[str, Mapping[str, Any]]:
    """Each operation's request schema — its own, else the contract's; fails at start-up, not
    on the first request, when there is none."""
    found = {}
    for operation, endpoint in component.endpoints.items():
        schema = endpoint.request if endpoint.request is not None else contract.request(operation)
        if schema is None:
            raise FileNotFoundError(
                f"the contract at {contract.directory} has no request schema for {operation}: "
                f"add it to schemas/, or give it with @serves({operation!r}, request=...)"
            )
        found[operation] = schema
    return found


async def start(shared: Shared, contract: Contract, admin: dict[str, Handler]) -> Service:
    """Starts the service with the component's operations and `admin` (operation → handler)."""
    component = shared.component
    schemas = request_schemas(component, contract)
    service = await micro.add_service(
        shared.nc, name=component.name, version=component.version, description=component.description
    )
    for operation, endpoint in component.endpoints.items():
        await service.add_endpoint(
            name=operation.replace(".", "-"),
            subject=endpoint.subject,
            handler=answering(domain(shared, endpoint, schemas[operation]), shared.metrics.endpoint(operation)),
        )
    for operation, handler in admin.items():
        await service.add_endpoint(
            name=f"admin-{operation}", subject=f"svc.{component.name}.admin.{operation}", handler=answering(handler)
        )
    return service


def domain(shared: Shared, endpoint: "Endpoint", schema: Mapping[str, Any]) -> Handler:
    """An operation of the domain: refused while rebuilding, its request read strictly, its
    answer encoded."""

    async def answer(request: Request) -> bytes:
        if shared.rebuilding:
            raise ServiceError(
                503, f"{shared.component.name} is rebuilding its state from the streams; retry shortly", True
            )
        try:
            body = decode(request.data, schema)
        except ContractError as err:
            raise ServiceError(400, f"request does not decode: {err}") from None
        return envelope.encode(endpoint.answer(shared.store.db, body))

    return answer


def answering(
    handler: Handler, metrics: Optional[EndpointMetrics] = None
) -> Callable[[Request], Awaitable[None]]:
    """An endpoint that answers with what `handler` returns, or with a typed error: a
    malformed `traceparent` is a 400 before anything runs, a `ServiceError` is itself, any
    other failure a 500. `metrics` counts the domain's endpoints (not the admin ones, as in
    the Rust kit): each answer, its error code, and the time from taking the request to
    sending the answer."""

    async def endpoint(request: Request) -> None:
        started = time.perf_counter()
        code = await _answer(handler, request)
        if metrics is not None:
            metrics.answered(code, time.perf_counter() - started)

    return endpoint


async def _answer(handler: Handler, request: Request) -> Optional[int]:
    """Answers `request`; the error code it answered with, if any."""
    try:
        traceparent = envelope.header(request.headers, envelope.TRACEPARENT)
        if traceparent and not envelope.is_traceparent(traceparent):
            raise ServiceError(
                400,
                f"malformed request headers: header traceparent is {traceparent[:64]!r}, "
                "expected 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>",
            )
        reply = await handler(request)
    except ServiceError as err:
        await respond_error(request, err)
        return err.code
    except Exception as err:  # a bug: the caller gets a 500, the log the details
        log.exception("answering %s failed", request.subject)
        await respond_error(request, ServiceError(500, f"{type(err).__name__}: {err}"))
        return 500
    await request.respond(reply)
    return None


async def respond_error(request: Request, err: ServiceError) -> None:
    await request.respond(
        b"",
        headers={
            ERROR_HEADER: one_line(err.message),
            ERROR_CODE_HEADER: str(err.code),
            envelope.RETRYABLE: "true" if err.retryable else "false",
        },
    )
