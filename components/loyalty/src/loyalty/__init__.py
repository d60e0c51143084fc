"""loyalty: the storefront's component in Python — points for completed orders, taken back
on refund — on the Python kit (kits/python, `mandate_kit`). Its domain alone: the points
(`ledger.py`) and the declaration that wires them to events and the balance operation
(`component.py`)."""
