"""loyalty: the storefront's component in Python — points for completed orders, taken back
on refund — written from docs/contract.md alone. `main.py` starts it; each concern has its
file: the SQLite store (`store.py`), the points (`ledger.py`), the consume loop
(`consume.py`), strict reading (`reading.py`), reactions' envelopes (`reactions.py`), dead
letters (`deadletter.py`), the outbox relay (`relay.py`), the services API (`service.py`)
and the admin protocol (`admin.py`)."""
