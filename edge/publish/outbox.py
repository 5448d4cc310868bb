"""The on-disk event outbox: an event is committed here before it is handed to MQTT and deleted only
after the broker acknowledged it, so neither a broker outage nor a crash of the daemon loses it.

SQLite in WAL mode (stdlib `sqlite3`). Writes go through one connection behind a Python lock: the
frame thread's INSERT (a commit into the WAL, no fsync: once `add` returned, a crash of the process
loses nothing) and the sender thread's reads, batched DELETEs of acknowledged rows and bounds. A
second connection only checkpoints (`sync`, about once a second from the sender thread), which
fsyncs the WAL: a power cut loses at most the events of the last second. So the frame thread never
waits for an fsync, and never for SQLite's busy-retry sleeps (a Python lock wakes its waiter at once;
a checkpoint does not block writers); automatic checkpoints on commit are off for the same reason.

Row ids come from AUTOINCREMENT, so they never go backwards, even after the table was emptied: the id
is the send order. Bounded by age and by row count: events by `max_events`, event snapshots (large rows,
edge/preview/snapshot.py; their `kind` column says so) by `max_snapshots` of their own, so a snapshot never
pushes an event out; what the bounds drop is counted and logged.

The same file keeps the events that are open (started, not yet ended): the last message of each, written
in the transaction that queues it and removed in the one that queues its `end`. So a crash (SIGKILL,
power cut) leaves exactly the events it interrupted, and the next start ends them (`open_events`)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.errors import EdgeError

logger = logging.getLogger(__name__)

# PRAGMA user_version of the file; bump when a table changes (2 added open_events, 3 the outbox's `kind`)
OUTBOX_FORMAT = 3
READABLE_FORMATS = (0, 1, 2, OUTBOX_FORMAT)  # 0: a new file; 1 and 2: upgraded in place (`_upgrade`)
RowKind = Literal["event", "snapshot"]  # which bound a row counts against: max_events or max_snapshots
BUSY_TIMEOUT_S = 5.0  # another process holding the file (e.g. an inspection with sqlite3) waits this long

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,   -- wall-clock time.time() when committed; the age bound uses it
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,   -- the exact bytes published (UTF-8 JSON)
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'event'  -- RowKind: 'event' or 'snapshot' (format 3)
);
CREATE TABLE IF NOT EXISTS open_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order events were opened in
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL   -- the event's last message (start or update), UTF-8 JSON
)
"""


class OutboxError(EdgeError):
    """The outbox file cannot be created or opened (path, permissions)."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One stored message, in send order (`id`)."""

    id: int
    created: float
    topic: str
    payload: str
    qos: int
    retain: bool


class Outbox:
    """A durable FIFO of messages waiting for a broker acknowledgement. `add` is for the frame thread,
    the other methods for the sender thread; all are thread-safe."""

    def __init__(
        self, path: Path, max_events: int = 10000, max_age_s: float = 7 * 86400, max_snapshots: int = 50
    ) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.max_age_s = max_age_s
        self.max_snapshots = max_snapshots
        self.dropped = 0  # events removed by the size/age bounds since start
        self.dropped_snapshots = 0  # snapshots removed by the bounds since start
        self._lock = threading.Lock()  # guards _db and the counters below
        self._db = self._open()
        self._checkpointer = self._connect()
        self._depth = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        self._dirty = False

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutboxError(
                f"{self.path.parent}: cannot create the outbox directory: {exc.strerror}"
            ) from None
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
                raise OutboxError(f"{self.path}: cannot open the outbox: {exc}") from None
            # A corrupt or foreign file: keep it for inspection and start a fresh outbox, so the
            # daemon goes on recording new events instead of refusing to run.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            logger.error("%s: not a usable outbox (%s); moved aside to %s", self.path, exc, aside)
            for suffix in ("", "-wal", "-shm"):
                src = Path(f"{self.path}{suffix}")
                if src.exists():
                    src.rename(f"{aside}{suffix}")
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL commits without fsync; `sync` makes them durable
            db.execute("PRAGMA wal_autocheckpoint=0")  # no checkpoint (and fsync) inside a frame's INSERT
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in READABLE_FORMATS:
                raise sqlite3.DatabaseError(f"outbox format {version}, expected {OUTBOX_FORMAT}")
            db.executescript(_SCHEMA)  # creates what is missing: every table (new file), open_events (1)
            _upgrade(db)
            db.execute(f"PRAGMA user_version={OUTBOX_FORMAT}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def add(
        self,
        topic: str,
        payload: str,
        qos: int = 1,
        retain: bool = False,
        event: tuple[str, str] | None = None,
        kind: RowKind = "event",
    ) -> int:
        """Commit one message; returns its row id (the send order). The one call on the frame path.
        `event` (id, state) of an event message: in the same transaction the event is recorded as open
        with this message (start, update) or no longer open (end). `kind` "snapshot": the row counts
        against `max_snapshots`, not `max_events`."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                cur = self._db.execute(
                    "INSERT INTO outbox (created, topic, payload, qos, retain, kind) VALUES (?, ?, ?, ?, ?, ?)",
                    (time.time(), topic, payload, qos, int(retain), kind),
                )
                if event is not None and event[1] == "end":
                    self._db.execute("DELETE FROM open_events WHERE event_id = ?", (event[0],))
                elif event is not None:
                    self._db.execute(
                        "INSERT INTO open_events (event_id, topic, payload) VALUES (?, ?, ?) "
                        "ON CONFLICT (event_id) DO UPDATE SET payload = excluded.payload",
                        (event[0], topic, payload),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._depth += 1
            self._dirty = True
        return int(cur.lastrowid or 0)

    def open_events(self) -> list[tuple[str, str]]:
        """(topic, last payload) of every event left open, in the order they were opened: after a crash,
        the events it interrupted."""
        with self._lock:
            rows = self._db.execute("SELECT topic, payload FROM open_events ORDER BY seq").fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def after(self, row_id: int, limit: int) -> list[OutboxRow]:
        """Up to `limit` rows with an id greater than `row_id`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created, topic, payload, qos, retain FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (row_id, limit),
            ).fetchall()
        return [OutboxRow(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def delete(self, row_ids: Iterable[int]) -> None:
        """Remove acknowledged rows (one transaction for the batch)."""
        ids = [(i,) for i in row_ids]
        if not ids:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                removed = self._db.executemany("DELETE FROM outbox WHERE id = ?", ids).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._depth -= max(0, removed)
            self._dirty = True

    def depth(self) -> int:
        """How many messages wait for an acknowledgement (a counter: cheap from any thread)."""
        return self._depth

    def sync(self) -> None:
        """Make every committed change durable against a power cut (a checkpoint on its own
        connection: fsyncs the WAL, copies it into the database), if anything changed since the
        last call. For the sender thread, about once a second; never blocks `add`."""
        with self._lock:
            dirty, self._dirty = self._dirty, False
        if dirty:
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def prune(self, now: float | None = None) -> int:
        """Apply the bounds: drop rows older than `max_age_s`, the oldest snapshots beyond `max_snapshots`
        and the oldest events beyond `max_events` (snapshots do not count against it). Returns how many
        rows were dropped (added to `dropped` / `dropped_snapshots` and logged as warnings)."""
        now = time.time() if now is None else now
        cutoff = now - self.max_age_s
        with self._lock:
            old = self._delete_where("kind = 'event' AND created < ?", cutoff)
            old_snapshots = self._delete_where("kind = 'snapshot' AND created < ?", cutoff)
            extra_snapshots = self._delete_where(
                "id IN (SELECT id FROM outbox WHERE kind = 'snapshot' ORDER BY id DESC LIMIT -1 OFFSET ?)",
                self.max_snapshots,
            )
            events = int(self._db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'event'").fetchone()[0])
            excess = max(0, events - self.max_events)
            if excess:
                self._delete_where(
                    "id IN (SELECT id FROM outbox WHERE kind = 'event' ORDER BY id LIMIT ?)", excess
                )
            total = old + old_snapshots + extra_snapshots + excess
            self._depth -= total
            self._dirty = self._dirty or bool(total)
        if old:
            logger.warning("outbox %s: dropped %d event(s) older than %.0f s", self.path, old, self.max_age_s)
        if excess:
            logger.warning(
                "outbox %s: dropped the %d oldest event(s) to stay within %d",
                self.path,
                excess,
                self.max_events,
            )
        if old_snapshots or extra_snapshots:
            logger.warning(
                "outbox %s: dropped %d snapshot(s) older than %.0f s and the %d oldest beyond %d",
                self.path,
                old_snapshots,
                self.max_age_s,
                extra_snapshots,
                self.max_snapshots,
            )
        self.dropped += old + excess
        self.dropped_snapshots += old_snapshots + extra_snapshots
        return total

    def _delete_where(self, condition: str, value: float) -> int:
        """DELETE the outbox rows matching `condition` (one `?` for `value`); how many. Under the lock."""
        return int(self._db.execute(f"DELETE FROM outbox WHERE {condition}", (value,)).rowcount)

    def close(self) -> None:
        """Checkpoint and close the file (rows stay for the next start)."""
        with self._lock:
            self._checkpointer.close()
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()


def _upgrade(db: sqlite3.Connection) -> None:
    """Bring an older file's tables up to OUTBOX_FORMAT in place, keeping every queued row: format 3 added
    the outbox's `kind` column (rows of format 1 and 2 files are all events, its default). Checked by
    column, not by version number, so an upgrade interrupted before `user_version` was written is
    finished at the next start."""
    columns = {str(row[1]) for row in db.execute("PRAGMA table_info(outbox)")}
    if "kind" not in columns:
        db.execute("ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'event'")
