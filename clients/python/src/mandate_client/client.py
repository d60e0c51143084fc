"""A client of the storefront over NATS: service calls with typed errors, and its events.

Written from ``schemas/`` (subjects, bodies) and ``docs/contract.md`` (headers, errors,
retries, idempotency) only.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Mapping, Optional, Sequence, Union

import nats
import nats.errors
from nats.aio.client import Client as NATS

from . import envelope, strict
from .envelope import Event, Trace, both_forms
from .strict import Contract, ContractError

# Where an order ends (OrderStatus in schemas/json/services/orders.get.v1.response.json).
TERMINAL_STATUSES = {"completed", "rejected", "payment-declined", "cancelled"}

# Events after which an order is over, by `<owner>.<event>` (any major version): it
# completed, or stock was refused, or the payment was declined, or it was cancelled.
FINAL_EVENTS = {
    "orders.completed",
    "inventory.rejected",
    "payments.declined",
    "orders.cancelled",
}


SERVER_LIST_EXAMPLE = "e.g. nats://nats-1:4222,nats://nats-2:4222"


def server_list(value: str) -> list[str]:
    """The servers of ``NATS_URL`` / ``--server``: one URL or several separated by commas (the
    nodes of a cluster), as the nats CLI and the kit take them. Whitespace around an entry is
    ignored; an empty one (``a,,b``, a trailing comma) is a typo and refused, not skipped."""
    if not value.strip():
        raise ValueError(
            "NATS_URL/--server is empty: give a server URL such as nats://127.0.0.1:4222, "
            f"or several separated by commas ({SERVER_LIST_EXAMPLE})"
        )
    entries = [entry.strip() for entry in value.split(",")]
    for position, entry in enumerate(entries, start=1):
        if not entry:
            raise ValueError(
                f"NATS_URL/--server: server {position} of {len(entries)} is empty: separate the servers "
                f"with single commas and no trailing comma ({SERVER_LIST_EXAMPLE})"
            )
    return entries


class CallError(Exception):
    """A service call that returned no response."""

    retryable = False

    def __init__(self, operation: str, message: str):
        super().__init__(f"{operation}: {message}")
        self.operation = operation


class ServiceError(CallError):
    """The service answered with a typed error (``Nats-Service-Error*`` headers)."""

    def __init__(self, operation: str, code: int, message: str, retryable: bool):
        hint = "retryable" if retryable else "not retryable"
        super().__init__(operation, f"refused with {code}: {message} ({hint})")
        self.code = code
        self.message = message
        self.retryable = retryable


class NoResponders(CallError):
    """Nobody serves the subject: its component is not running (yet). Worth a retry."""

    retryable = True

    def __init__(self, operation: str):
        super().__init__(operation, "nobody serves it: is its component running?")


class Refused(CallError):
    """The server refused something the call needs (its reply subscription, its subject):
    the bus user lacks a permission. Not worth a retry."""

    def __init__(self, operation: str, refusal: str):
        if "publish" in refusal.lower():
            hint = (
                f"this bus user may not call {operation}: its user needs publish rights on "
                f"{subject_of(operation)} (a `calls` entry of its manifest; `observer` calls nothing)"
            )
        else:
            hint = (
                "a bus user may only read replies on its own inbox prefix: pass --inbox-prefix "
                "_INBOX.<user> (against `mandate dev`, whose anonymous connections are the "
                "operator: _INBOX.mandate-cli)"
            )
        super().__init__(operation, f"the server refused it ({refusal}); {hint}")


class BadReply(CallError):
    """The reply breaks the contract's encoding (``strict.py``): the rule, where, what. A
    fault of the service, not worth a retry."""

    def __init__(self, operation: str, error: ContractError):
        super().__init__(operation, f"the reply breaks the contract: {error}")
        self.rule = error.rule
        self.path = error.path


class Timeout(CallError):
    """No answer in time. Worth a retry for reads and for calls with an idempotency key."""

    retryable = True

    def __init__(self, operation: str, after: float):
        super().__init__(operation, f"no answer within {after:g} s")


def subject_of(operation: str) -> str:
    """``orders.place.v1`` → ``svc.orders.place.v1``."""
    return f"svc.{operation}"


class Storefront:
    """A connection to the bus with the storefront's operations."""

    def __init__(
        self, nc: NATS, trace: Optional[Trace] = None, timeout: float = 5.0, contract: Optional[Contract] = None
    ):
        self.nc = nc
        self.trace = trace or Trace()
        self.timeout = timeout
        # The schemas replies and events are read against (schemas/json of the repository).
        self.contract = contract or Contract.find()
        # What the server refused (asynchronously, as "Permissions Violation ..."), so a
        # timeout it caused can say why.
        self.refusals: list[str] = []

    @classmethod
    async def connect(
        cls,
        server: Union[str, Sequence[str]],
        *,
        user: Optional[str] = None,
        password: Optional[str] = None,
        inbox_prefix: str = "_INBOX.python-client",
        name: str = "python-client",
        timeout: float = 5.0,
        schemas: Optional[str] = None,
    ) -> "Storefront":
        contract = Contract.find(schemas)
        # nats-py tries the servers of its list in turn (shuffled), also on the first connect.
        servers = server_list(server) if isinstance(server, str) else list(server)
        options: dict[str, Any] = {
            "servers": servers,
            "name": name,
            # Replies come to <inbox_prefix>.>: a bus user may only read its own inbox.
            "inbox_prefix": inbox_prefix,
            "connect_timeout": timeout,
            # A command-line client: say "cannot connect" at once rather than retry for minutes.
            "allow_reconnect": False,
            "max_reconnect_attempts": 1,
            "reconnect_time_wait": 0.5,
        }
        if user:
            options["user"] = user
            options["password"] = password or ""
        refusals: list[str] = []

        async def on_error(err: Exception) -> None:
            text = str(err)
            if "permissions violation" in text.lower():
                refusals.append(text.strip().strip("'\""))

        options["error_cb"] = on_error
        nc = await nats.connect(**options)
        storefront = cls(nc, timeout=timeout, contract=contract)
        storefront.refusals = refusals
        return storefront

    async def close(self) -> None:
        await self.nc.drain()

    # -- services ----------------------------------------------------------------------

    async def call(self, operation: str, request: Mapping[str, Any]) -> Any:
        """One request/reply: the request as a MessagePack map, the reply decoded strictly
        against the operation's response schema, or a typed error."""
        try:
            reply = await self.nc.request(
                subject_of(operation),
                envelope.encode(request),
                timeout=self.timeout,
                headers=self.trace.request_headers(),
            )
        except nats.errors.NoRespondersError:
            raise NoResponders(operation) from None
        except nats.errors.TimeoutError:
            if self.refusals:
                raise Refused(operation, self.refusals[-1]) from None
            raise Timeout(operation, self.timeout) from None
        code = envelope.header(reply.headers, envelope.SERVICE_ERROR_CODE)
        if code is not None:
            raise ServiceError(
                operation,
                int(code) if code.isdigit() else 500,
                envelope.header(reply.headers, envelope.SERVICE_ERROR) or "",
                envelope.header(reply.headers, envelope.RETRYABLE) == "true",
            )
        try:
            return strict.decode(reply.data, self.contract.response(operation))
        except ContractError as err:
            raise BadReply(operation, err) from None

    async def call_retrying(self, operation: str, request: Mapping[str, Any], patience: float = 30.0) -> Any:
        """:meth:`call`, repeated while the failure is retryable (503, no responders, a
        timeout) for up to ``patience`` seconds. Safe for reads and for commands that carry
        an idempotency key: a repeat returns the first result."""
        deadline = time.monotonic() + patience
        pause = 0.1
        while True:
            try:
                return await self.call(operation, request)
            except CallError as err:
                if not err.retryable or time.monotonic() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def list_products(self, page_size: int = 100) -> list[dict[str, Any]]:
        """Every product (``catalog.list-products.v1``), following the pages' cursors."""
        products: list[dict[str, Any]] = []
        after: Optional[str] = None
        while True:
            request: dict[str, Any] = {"limit": page_size}
            if after is not None:
                request["after"] = after
            page = await self.call_retrying("catalog.list-products.v1", request)
            products.extend(page.get("items", []))
            after = page.get("next")
            if not after:
                return products

    async def place_order(
        self,
        *,
        idempotency_key: str,
        customer_id: str,
        lines: list[tuple[str, int]],
        payment_token: str = "",
    ) -> dict[str, Any]:
        """``orders.place.v1``. The same idempotency key always returns the first order, so
        the call is retried safely."""
        request = {
            "idempotency_key": idempotency_key,
            "customer_id": customer_id,
            "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
            "payment_token": payment_token,
        }
        return await self.call_retrying("orders.place.v1", request)

    async def get_order(self, order_id: str) -> dict[str, Any]:
        """``orders.get.v1``."""
        return await self.call_retrying("orders.get.v1", {"order_id": order_id})

    # -- events ------------------------------------------------------------------------

    async def events(self, subject: str = "evt.>") -> "EventFeed":
        """A live feed of events (a core NATS subscription; nothing is replayed). Subscribe
        *before* the call whose events you want, so none is missed. One event's subject
        (``evt.orders.placed.v1``) is followed in both forms, unkeyed and keyed
        (``envelope.both_forms``)."""
        feed = EventFeed(self.contract)
        for each in both_forms(subject):
            feed.subscriptions.append(await self.nc.subscribe(each, cb=feed.deliver))
        # The subscription is registered with the server once flushed.
        await self.nc.flush()
        return feed

    async def follow_order(
        self,
        feed: "EventFeed",
        order_id: str,
        *,
        timeout: float = 60.0,
        grace: float = 2.0,
        on_event=None,
    ) -> tuple[dict[str, Any], list[Event]]:
        """Follows ``order_id``'s events on ``feed`` until the order is over, then returns the
        order as ``orders.get.v1`` reports it (the authority on its status) and the events
        seen.

        An event says *that* something happened; orders decides the status. So after a final
        event (completed, rejected, declined, cancelled) this asks orders until it agrees.
        And when orders says the order is over before its final event arrived (orders
        commits the status, then publishes; or the feed was opened after the end), the
        events still on their way get ``grace`` seconds to arrive."""
        deadline = time.monotonic() + timeout
        seen: list[Event] = []
        order = await self.get_order(order_id)
        grace_until = time.monotonic() + grace if order.get("status") in TERMINAL_STATUSES else None
        while True:
            now = time.monotonic()
            if grace_until is not None and now >= grace_until:
                return order, seen
            if now >= deadline:
                raise TimeoutError(
                    f"order {order_id} is still {order.get('status')!r} after {timeout:g} s "
                    f"(events seen: {', '.join(e.type for e in seen) or 'none'})"
                )
            wait = min(1.0, deadline - now) if grace_until is None else grace_until - now
            event = await feed.next(wait)
            if event is None:
                if grace_until is None:
                    # Quiet for a while: ask (events may have been missed).
                    order = await self.get_order(order_id)
                    if order.get("status") in TERMINAL_STATUSES:
                        grace_until = time.monotonic() + grace
                continue
            if event.order_id != order_id:
                continue
            seen.append(event)
            if on_event:
                on_event(event)
            if event.name in FINAL_EVENTS:
                while True:
                    order = await self.get_order(order_id)
                    if order.get("status") in TERMINAL_STATUSES:
                        return order, seen
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"order {order_id}: {event.type} arrived but orders still says "
                            f"{order.get('status')!r} after {timeout:g} s"
                        )
                    await asyncio.sleep(0.05)


class EventFeed:
    """Events received on a subscription, in arrival order. An event that breaks the contract
    (its envelope or its body, ``strict.py``) is not delivered: it is counted by rule in
    ``refused``, and the last few are kept in ``refusals``."""

    def __init__(self, contract: Optional[Contract] = None) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.subscriptions: list = []
        self.contract = contract
        self.refused: dict[str, int] = {}
        self.refusals: list[str] = []

    async def deliver(self, msg) -> None:
        try:
            event = Event.from_message(msg.subject, msg.headers, msg.data, self.contract)
        except ContractError as err:
            self.refused[err.rule] = self.refused.get(err.rule, 0) + 1
            self.refusals = (self.refusals + [f"{msg.subject}: {err}"])[-10:]
            return
        await self.queue.put(event)

    async def next(self, timeout: float) -> Optional[Event]:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def close(self) -> None:
        while self.subscriptions:
            await self.subscriptions.pop().unsubscribe()
