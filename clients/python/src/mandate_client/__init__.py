"""A client of the mandate storefront over NATS, written from the contract alone
(``schemas/`` and ``docs/contract.md``): list products, place an order, read it back and
follow its events until it is over."""

from .client import (
    BadReply,
    CallError,
    EventFeed,
    NoResponders,
    Refused,
    ServiceError,
    Storefront,
    Timeout,
)
from .envelope import Event, Trace
from .strict import Contract, ContractError

__all__ = [
    "BadReply",
    "CallError",
    "Contract",
    "ContractError",
    "Event",
    "EventFeed",
    "NoResponders",
    "Refused",
    "ServiceError",
    "Storefront",
    "Timeout",
    "Trace",
]
