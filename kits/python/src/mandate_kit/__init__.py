"""mandate_kit: the kit for mandate components in Python (docs/contract.md, "A component in
another language"). A component declares what it does — its tables, the events it handles,
the operations it serves, the events it publishes — and the kit does the rest, as the Rust
kit (`crates/mandate`) does for Rust components:

    component = Component("loyalty", tables=SCHEMA, state_tables=["loyalty_order"],
                          publishes=["loyalty.points-awarded.v1"])

    @component.on("orders.completed.v1")
    def on_completed(tx: Tx, order) -> list[Emit]: ...

    @component.serves("loyalty.balance.v1")
    def balance(db, request) -> dict: ...

    component.main()

Each concern has its file: the declaration (`component.py`), starting and stopping
(`runtime.py`), the environment (`config.py`), connecting (`connect.py`), the SQLite store
with watermarks, outbox and dead-letter bookkeeping (`store.py`), the consume loop
(`consume.py`) and its transaction over a batch (`apply.py`), strict reading (`reading.py`),
reactions' envelopes (`reactions.py`), dead letters (`deadletter.py`), the outbox relay
(`relay.py`), the streams (`streams.py`), the services API (`service.py`), the admin protocol
(`admin.py`), and a real nats-server for tests (`testing.py`)."""

from .component import Component, Endpoint, Handler
from .reactions import Emit
from .service import ServiceError
from .store import Discard, Tx

__all__ = ["Component", "Emit", "Endpoint", "Handler", "ServiceError", "Tx", "Discard"]
