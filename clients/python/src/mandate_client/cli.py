"""``python -m mandate_client``: the storefront from the command line.

    python -m mandate_client --server nats://127.0.0.1:4222 demo
    python -m mandate_client --server nats://nats-1:4222,nats://nats-2:4222 demo   # a cluster
    python -m mandate_client products
    python -m mandate_client place --sku mug --quantity 2
    python -m mandate_client get <order_id>
    python -m mandate_client follow <order_id>

Exit codes: 0 ok (for ``demo`` and ``follow``: the order completed), 1 a failure (an error,
or an order that ended otherwise), 2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from typing import Any, Optional

from .client import CallError, EventFeed, ServiceError, Storefront, server_list
from .envelope import Event


def checked_servers(value: str) -> str:
    """``--server`` as given, once it reads as a server list (argparse checks the default,
    i.e. ``NATS_URL``, the same way); a usage error saying what to write otherwise."""
    try:
        server_list(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m mandate_client",
        description="A client of the mandate storefront over NATS (written from schemas/ and docs/contract.md).",
    )
    top.add_argument(
        "--server",
        "-s",
        default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
        type=checked_servers,
        help="NATS URL, or several separated by commas (env NATS_URL; default nats://127.0.0.1:4222)",
    )
    top.add_argument("--user", default=os.environ.get("NATS_USER"), help="bus user (env NATS_USER)")
    top.add_argument("--password", default=os.environ.get("NATS_PASSWORD"), help="its password (env NATS_PASSWORD)")
    top.add_argument(
        "--inbox-prefix",
        default=os.environ.get("NATS_INBOX_PREFIX"),
        help="where replies come (env NATS_INBOX_PREFIX; default _INBOX.<user>, or "
        "_INBOX.python-client without a user; against `mandate dev`: _INBOX.mandate-cli)",
    )
    top.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for one reply (default 5)")
    top.add_argument(
        "--schemas",
        default=os.environ.get("MANDATE_SCHEMAS"),
        help="the contract's JSON Schemas, replies and events are checked against them "
        "(env MANDATE_SCHEMAS; default: schemas/json of the repository this client is in)",
    )
    top.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("--json", action="store_true", dest="json_here", help="machine-readable JSON on stdout")
        return sub

    command("products", "list every product (catalog.list-products.v1)")

    def order_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--quantity", type=int, default=1, help="units (default 1)")
        sub.add_argument("--customer", default="python-client", help="customer id (default python-client)")
        sub.add_argument(
            "--payment-token", default="tok", help="token for the payment provider (`decline` gets it declined)"
        )
        sub.add_argument(
            "--idempotency-key",
            help="the key of this order (default: a new UUID); placing again with the same key returns the first order",
        )

    place = command("place", "place an order (orders.place.v1)")
    place.add_argument("--sku", required=True, help="the product")
    order_options(place)

    get = command("get", "read an order back (orders.get.v1)")
    get.add_argument("order_id")

    follow = command("follow", "follow an order's events until it is over")
    follow.add_argument("order_id")
    follow.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the end (default 60)")

    demo = command(
        "demo",
        "list the products, place an order for one, read it back and follow its events until it completes or fails",
    )
    demo.add_argument("--sku", help="the product (default: the first one listed that has a price)")
    order_options(demo)
    demo.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the end (default 60)")
    return top


class Output:
    """Sentences for people (on stderr when stdout carries JSON), one JSON value for tools."""

    def __init__(self, as_json: bool):
        self.as_json = as_json

    def say(self, text: str) -> None:
        print(text, file=sys.stderr if self.as_json else sys.stdout, flush=True)

    def result(self, value: Any, text: Optional[str] = None) -> None:
        if self.as_json:
            print(json.dumps(value, sort_keys=True), flush=True)
        elif text is not None:
            print(text, flush=True)


def money(minor: int, currency: str) -> str:
    """Minor units as a decimal amount (2 decimals: EUR, USD, ...)."""
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d} {currency}"


def describe(event: Event) -> str:
    body = event.body if isinstance(event.body, dict) else {}
    detail = ""
    if "reason" in body:
        detail = f" ({body['reason']})"
    elif "amount_minor" in body and "currency" in body:
        detail = f" ({money(body['amount_minor'], body['currency'])})"
    return f"  event {event.type}{detail} from {event.source}, correlation {event.correlation_id}"


def order_summary(order: dict[str, Any]) -> str:
    lines = ", ".join(f"{line['quantity']} × {line['sku']}" for line in order.get("lines", []))
    return (
        f"order {order['order_id']}: {order.get('status')} — {lines}, "
        f"total {money(order.get('total_minor', 0), order.get('currency', ''))}"
    )


def order_report(order: dict[str, Any], events: list[Event], sf: Storefront, feed: EventFeed) -> dict[str, Any]:
    return {
        "order_id": order["order_id"],
        "status": order.get("status"),
        "total_minor": order.get("total_minor"),
        "currency": order.get("currency"),
        "history": [step.get("status") for step in order.get("history", [])],
        "events": [event.type for event in events],
        "correlation_id": sf.trace.correlation_id,
        "correlated_events": sum(1 for e in events if e.correlation_id == sf.trace.correlation_id),
        "trace_id": sf.trace.trace_id,
        # Events on evt.> that broke the contract, by rule (none from the storefront).
        "refused_events": feed.refused,
    }


async def run(args: argparse.Namespace, out: Output) -> int:
    inbox = args.inbox_prefix or (f"_INBOX.{args.user}" if args.user else "_INBOX.python-client")
    try:
        sf = await Storefront.connect(
            args.server,
            user=args.user,
            password=args.password,
            inbox_prefix=inbox,
            timeout=args.timeout,
            schemas=args.schemas,
        )
    except FileNotFoundError:
        raise
    except Exception as err:  # nats-py raises several kinds; all mean the same here
        raise ConnectionError(
            f"cannot connect to {args.server} ({type(err).__name__}: {err}): is nats-server running there, "
            "and are --user/--password right?"
        ) from None
    try:
        if args.command == "products":
            products = await sf.list_products()
            out.result(
                products,
                "\n".join(
                    f"{p['sku']:<16} {money(p['unit_price_minor'], p['currency']):>14}  {p['name']}" for p in products
                )
                or "no products",
            )
            return 0
        if args.command == "place":
            order = await place(sf, args, args.sku, out)
            out.result(order, order_summary(order))
            return 0
        if args.command == "get":
            order = await sf.get_order(args.order_id)
            out.result(order, order_summary(order))
            return 0
        if args.command == "follow":
            feed = await sf.events()
            try:
                order, events = await sf.follow_order(
                    feed, args.order_id, timeout=args.wait, on_event=lambda e: out.say(describe(e))
                )
            finally:
                await feed.close()
            tell_refused(feed, out)
            out.result(order_report(order, events, sf, feed), order_summary(order))
            return 0 if order.get("status") == "completed" else 1
        if args.command == "demo":
            return await demo(sf, args, out)
        raise AssertionError(args.command)
    finally:
        await sf.close()


def tell_refused(feed: EventFeed, out: Output) -> None:
    """Says which events were refused for breaking the contract, if any."""
    for refusal in feed.refusals:
        out.say(f"  refused an event: {refusal}")


async def place(sf: Storefront, args: argparse.Namespace, sku: str, out: Output) -> dict[str, Any]:
    key = args.idempotency_key or str(uuid.uuid4())
    out.say(f"placing {args.quantity} × {sku} for {args.customer} (idempotency key {key})")
    return await sf.place_order(
        idempotency_key=key,
        customer_id=args.customer,
        lines=[(sku, args.quantity)],
        payment_token=args.payment_token,
    )


async def demo(sf: Storefront, args: argparse.Namespace, out: Output) -> int:
    out.say(f"trace {sf.trace.trace_id}, correlation {sf.trace.correlation_id}")
    products = await sf.list_products()
    out.say(f"{len(products)} product(s) in the catalog")
    for product in products:
        out.say(f"  {product['sku']}: {product['name']}, {money(product['unit_price_minor'], product['currency'])}")
    sku = args.sku or next((p["sku"] for p in products if p.get("unit_price_minor", 0) > 0), None)
    if sku is None:
        out.say("error: the catalog is empty: add a product first (catalog.upsert-product.v1)")
        return 1
    # Listen before placing, so no event of the new order is missed.
    feed = await sf.events()
    try:
        order = await place(sf, args, sku, out)
        out.say(f"placed: {order_summary(order)}")
        again = await sf.get_order(order["order_id"])
        out.say(f"read back: {order_summary(again)}")
        order, events = await sf.follow_order(
            feed, order["order_id"], timeout=args.wait, on_event=lambda e: out.say(describe(e))
        )
    finally:
        await feed.close()
    tell_refused(feed, out)
    report = order_report(order, events, sf, feed)
    completed = order.get("status") == "completed"
    verdict = "completed" if completed else f"did not complete: {order.get('status')}"
    notes = [step.get("note") for step in order.get("history", []) if step.get("note")]
    if notes:
        verdict += f" ({'; '.join(notes)})"
    out.say(f"order {order['order_id']} {verdict}; history: {' → '.join(report['history'])}")
    out.result(report, order_summary(order))
    return 0 if completed else 1


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    out = Output(args.json or getattr(args, "json_here", False))
    try:
        return asyncio.run(run(args, out))
    except ServiceError as err:
        out.say(f"error: {err}")
        if out.as_json:
            print(
                json.dumps(
                    {"error": {"operation": err.operation, "code": err.code, "message": err.message, "retryable": err.retryable}}
                ),
                flush=True,
            )
        return 1
    except (CallError, TimeoutError, OSError) as err:
        out.say(f"error: {err}")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - a connection error of nats-py, say it plainly
        out.say(f"error: {type(err).__name__}: {err}")
        return 1
