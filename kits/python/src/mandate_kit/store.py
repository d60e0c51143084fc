"""The private store: one SQLite file (standard library `sqlite3`), WAL with
`synchronous=FULL`, so that a commit is on disk before anything is acknowledged or answered.

Besides the component's own tables (`Component(tables=...)`) it holds what makes every effect happen once:

- `watermark`: per source stream, the last sequence whose effects are committed. It is
  written in the same transaction as the state change, and the consumer is re-seated just
  past it at every start.
- `replay_mark`: per source stream, up to where a rebuild re-applies without publishing
  again. A rebuild wipes the state and the watermarks, never the marks.
- `outbox`: events and dead letters to publish, staged in the transaction that decided them,
  published by the relay and deleted once JetStream has acknowledged them.
- `set_aside`: outbox entries the server refuses for good (too large, refused by their
  stream), moved out of the way so that they hold up nothing behind them.
- `counter`: bookkeeping that outlives a rebuild (the dead letters ever staged).

The store belongs to one process: opening it takes an exclusive lock on `LOCK` beside it.
Its file is named after its folder, which is named after the component
(`$MANDATE_DATA_DIR/loyalty/loyalty.sqlite3`).
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

LOCK_FILE = "LOCK"
DEAD_LETTERS = "dead_letters"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watermark (stream TEXT PRIMARY KEY, sequence INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS replay_mark (stream TEXT PRIMARY KEY, sequence INTEGER NOT NULL);
-- AUTOINCREMENT: ids are never reused, so the relay publishes in commit order.
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
-- Outbox entries the server refuses for good, moved out of the relay's way (kept by a rebuild).
CREATE TABLE IF NOT EXISTS set_aside (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


class StoreLocked(RuntimeError):
    """Another process has this store open."""


@dataclass(frozen=True)
class OutMessage:
    """A message to publish: subject, headers in order (`Nats-Msg-Id` among them), body."""

    subject: str
    headers: list[tuple[str, str]]
    payload: bytes


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    message: OutMessage


class Discard(Exception):
    """Raised inside a step to undo it (and only it)."""


class Tx:
    """One open transaction. Its work is split in steps (one per message): a step that fails
    is undone alone, the others stay."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self._steps = 0

    def execute(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, args)

    @contextmanager
    def step(self) -> Iterator[None]:
        """A savepoint: undone when the block raises (the exception goes on, except
        `Discard`, which only undoes)."""
        self._steps += 1
        name = f"step{self._steps}"
        self.db.execute(f"SAVEPOINT {name}")
        try:
            yield
        except Discard:
            self.db.execute(f"ROLLBACK TO {name}")
            self.db.execute(f"RELEASE {name}")
            return
        except BaseException:
            self.db.execute(f"ROLLBACK TO {name}")
            self.db.execute(f"RELEASE {name}")
            raise
        self.db.execute(f"RELEASE {name}")

    def watermark(self, stream: str) -> int:
        return _sequence(self.db, "watermark", stream)

    def set_watermark(self, stream: str, sequence: int) -> None:
        self.db.execute(
            "INSERT INTO watermark (stream, sequence) VALUES (?, ?) "
            "ON CONFLICT (stream) DO UPDATE SET sequence = excluded.sequence",
            (stream, sequence),
        )

    def mark_replay(self, stream: str) -> int:
        """Records the highest sequence ever applied from `stream` as its replay mark."""
        mark = max(self.watermark(stream), _sequence(self.db, "replay_mark", stream))
        self.db.execute(
            "INSERT INTO replay_mark (stream, sequence) VALUES (?, ?) "
            "ON CONFLICT (stream) DO UPDATE SET sequence = excluded.sequence",
            (stream, mark),
        )
        return mark

    def stage(self, message: OutMessage) -> None:
        """Puts `message` in the outbox: published after the commit, in commit order."""
        self.db.execute(
            "INSERT INTO outbox (subject, headers, payload) VALUES (?, ?, ?)",
            (message.subject, json.dumps(message.headers), message.payload),
        )

    def count(self, name: str, by: int = 1) -> None:
        self.db.execute(
            "INSERT INTO counter (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )


class Store:
    def __init__(self, directory: Path, domain_schema: str = "", state_tables: Sequence[str] = ()):
        """Opens (or creates) the store in `directory` with the domain's tables;
        `state_tables` are what a rebuild wipes."""
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = open(directory / LOCK_FILE, "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise StoreLocked(
                f"the store {directory} is open in another process: a store belongs to one process "
                f"(is another {directory.name} running with the same MANDATE_DATA_DIR?)"
            ) from None
        self.path = directory / f"{directory.name}.sqlite3"
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: in WAL mode, every commit is fsynced before it returns.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA + domain_schema)
        self._state_tables = tuple(state_tables)

    def close(self) -> None:
        self.db.close()
        self._lock.close()

    @contextmanager
    def transaction(self, committed: Optional[Callable[[float], None]] = None) -> Iterator[Tx]:
        """A write transaction, committed (and synced) when the block ends, rolled back when
        it raises; `committed` is told how long the COMMIT took, in seconds."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield Tx(self.db)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        started = time.perf_counter()
        self.db.execute("COMMIT")
        if committed is not None:
            committed(time.perf_counter() - started)

    def watermark(self, stream: str) -> int:
        return _sequence(self.db, "watermark", stream)

    def replay_mark(self, stream: str) -> int:
        return _sequence(self.db, "replay_mark", stream)

    def counter(self, name: str) -> int:
        row = self.db.execute("SELECT value FROM counter WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def outbox_head(self, limit: int) -> list[OutboxEntry]:
        """The oldest `limit` entries, in commit order."""
        rows = self.db.execute("SELECT id, subject, headers, payload FROM outbox ORDER BY id LIMIT ?", (limit,))
        return [
            OutboxEntry(id, OutMessage(subject, [(n, v) for n, v in json.loads(headers)], bytes(payload)))
            for id, subject, headers, payload in rows
        ]

    def delete_outbox(self, ids: Sequence[int]) -> None:
        """Removes published entries. (A delete lost in a crash republishes them under the same
        `Nats-Msg-Id`: JetStream drops the repeat.)"""
        with self.transaction() as tx:
            tx.db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def set_aside(self, entry: OutboxEntry, reason: str, at: str) -> None:
        """Moves an outbox entry the server refuses for good out of the relay's way."""
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO set_aside (id, subject, headers, payload, reason, at) "
                "SELECT id, subject, headers, payload, ?, ? FROM outbox WHERE id = ?",
                (reason, at, entry.id),
            )
            tx.execute("DELETE FROM outbox WHERE id = ?", (entry.id,))

    def set_aside_entries(self) -> list[tuple[OutboxEntry, str, str]]:
        """Every set-aside entry with why and when, in commit order."""
        rows = self.db.execute("SELECT id, subject, headers, payload, reason, at FROM set_aside ORDER BY id")
        return [
            (OutboxEntry(id, OutMessage(subject, [(n, v) for n, v in json.loads(headers)], bytes(payload))), reason, at)
            for id, subject, headers, payload, reason, at in rows
        ]

    def retry_set_aside(self) -> int:
        """Puts the set-aside entries back at the tail of the outbox; returns how many."""
        with self.transaction() as tx:
            moved = tx.execute(
                "INSERT INTO outbox (subject, headers, payload) "
                "SELECT subject, headers, payload FROM set_aside ORDER BY id"
            ).rowcount
            tx.execute("DELETE FROM set_aside")
        return moved

    def outbox_depth(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def outbox_head_id(self) -> Optional[int]:
        """The id of the entry the relay publishes next (None: the outbox is empty)."""
        return self.db.execute("SELECT MIN(id) FROM outbox").fetchone()[0]

    def set_aside_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM set_aside").fetchone()[0]

    def wipe(self, tx: Tx) -> int:
        """Deletes the state and the watermarks in `tx` (never the replay marks, the outbox or
        the counters); returns how many rows went."""
        wiped = 0
        for table in (*self._state_tables, "watermark"):
            wiped += tx.execute(f"DELETE FROM {table}").rowcount
        return wiped


def _sequence(db: sqlite3.Connection, table: str, stream: str) -> int:
    row: Optional[tuple[int]] = db.execute(f"SELECT sequence FROM {table} WHERE stream = ?", (stream,)).fetchone()
    return row[0] if row else 0
