"""What the kit's tests share: a store in a temporary folder (a real SQLite file) with a
small domain table of its own."""

from __future__ import annotations

import logging
import tempfile
import unittest
from pathlib import Path

from mandate_kit.store import Store

# What the code under test logs is asserted, not shown.
logging.getLogger("mandate_kit").setLevel(logging.CRITICAL)

# A domain's table, as a component declares it (`Component(tables=..., state_tables=...)`).
TABLES = "CREATE TABLE IF NOT EXISTS tally (key TEXT PRIMARY KEY, count INTEGER NOT NULL);"
STATE_TABLES = ("tally",)


class StoreCase(unittest.TestCase):
    """A test with a fresh store in a temporary folder."""

    def setUp(self) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self.dir = Path(self._dir.name) / "tally"
        self.store = self.open()

    def tearDown(self) -> None:
        self.store.close()
        self._dir.cleanup()

    def open(self) -> Store:
        return Store(self.dir, TABLES, STATE_TABLES)

    def reopen(self) -> None:
        self.store.close()
        self.store = self.open()
