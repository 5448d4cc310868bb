"""The on-disk outbox on a real SQLite file: order, persistence, bounds, bad files."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest

from edge.errors import EdgeError
from edge.publish.outbox import OUTBOX_FORMAT, Outbox


def test_rows_come_back_in_commit_order_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.sqlite"  # parent created on demand
    box = Outbox(path)
    ids = [box.add("t/event", f'{{"n":{i}}}') for i in range(5)]
    assert ids == sorted(ids)
    box.delete(ids[:2])
    box.close()
    again = Outbox(path)
    rows = again.after(0, 10)
    assert [r.payload for r in rows] == ['{"n":2}', '{"n":3}', '{"n":4}']
    assert [r.qos for r in rows] == [1, 1, 1]
    assert again.after(rows[0].id, 1)[0].payload == '{"n":3}'
    # ids never go backwards, even once the table is empty (AUTOINCREMENT): send order across restarts
    again.delete(r.id for r in rows)
    assert again.depth() == 0
    assert again.add("t/event", "{}") > ids[-1]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_bounds_drop_oldest_and_expired_and_count_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_events=5, max_age_s=60)
    for i in range(8):
        box.add("t", f'{{"n":{i}}}')
    with caplog.at_level(logging.WARNING):
        assert box.prune() == 3
    assert [r.payload for r in box.after(0, 10)] == [f'{{"n":{i}}}' for i in range(3, 8)]
    assert "dropped the 3 oldest" in caplog.text
    assert box.prune(now=time.time() + 61) == 5  # all expired
    assert box.dropped == 8
    assert "older than 60 s" in caplog.text


def test_corrupt_file_is_moved_aside_and_a_fresh_outbox_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.ERROR):
        box = Outbox(path)
    box.add("t", "{}")
    assert box.depth() == 1
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    assert "not a usable outbox" in caplog.text


def test_a_path_that_is_a_directory_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(EdgeError, match=r"dir\.sqlite"):
        Outbox(tmp_path / "dir.sqlite")


def test_sync_checkpoints_committed_rows_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    box.add("t", '{"n":1}')

    def rows_in_main_file_alone() -> int:
        copy = tmp_path / "copy.sqlite"  # the database file without its WAL: what is checkpointed
        copy.write_bytes(path.read_bytes())
        db = sqlite3.connect(copy)
        try:
            return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        except sqlite3.OperationalError:  # not even the table yet: it too is only in the WAL
            return 0
        finally:
            db.close()
            copy.unlink()

    assert rows_in_main_file_alone() == 0  # committed to the WAL only (no checkpoint on INSERT)
    box.sync()
    assert rows_in_main_file_alone() == 1
    box.close()


def test_open_events_are_recorded_with_their_message_and_removed_by_their_end(tmp_path: Path) -> None:
    """Start and update keep the event's last message; its end removes it, in the same transaction
    as the outbox row, so whatever a crash interrupts is exactly what is left (read after reopening)."""
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    box.add("t/event", '{"id":"a","state":"start","n":1}', event=("a", "start"))
    box.add("t/event", '{"id":"b","state":"start","n":1}', event=("b", "start"))
    box.add("t/event", '{"id":"a","state":"update","n":2}', event=("a", "update"))
    box.add("t/event", '{"id":"b","state":"end","n":2}', event=("b", "end"))
    box.add("t/stats", "{}")  # not an event
    assert box.open_events() == [("t/event", '{"id":"a","state":"update","n":2}')]
    box.delete(r.id for r in box.after(0, 10))  # acknowledged by the broker: the event is still open
    del box  # no close: as after a SIGKILL
    again = Outbox(path)
    assert again.open_events() == [("t/event", '{"id":"a","state":"update","n":2}')]
    again.add("t/event", '{"id":"a","state":"end"}', event=("a", "end"))
    assert again.open_events() == []


_FORMAT_1_TABLE = (
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, topic TEXT NOT NULL, "
    "payload TEXT NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL);"
)


def test_a_format_1_outbox_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    old = sqlite3.connect(path)
    old.executescript(_FORMAT_1_TABLE + "PRAGMA user_version=1;")
    old.execute(
        "INSERT INTO outbox (created, topic, payload, qos, retain) VALUES (?, 't', '{}', 1, 0)",
        (time.time(),),
    )
    old.commit()
    old.close()
    box = Outbox(path)
    assert box.depth() == 1 and box.open_events() == []  # the queued event kept, the new table added
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == OUTBOX_FORMAT == 3
    assert sqlite3.connect(path).execute("SELECT kind FROM outbox").fetchall() == [("event",)]


def test_a_format_2_outbox_keeps_its_rows_and_open_events_and_gains_the_row_kind(tmp_path: Path) -> None:
    """Format 2 (open events, i18) to 3 (each row says whether it is an event or a snapshot): the queued
    rows stay and count as events, the open events stay to be ended at start, and the bounds tell the
    kinds apart afterwards."""
    path = tmp_path / "outbox.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        _FORMAT_1_TABLE
        + "CREATE TABLE open_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, "
        "topic TEXT NOT NULL, payload TEXT NOT NULL); PRAGMA user_version=2;"
    )
    start = '{"id":"a","state":"start"}'
    old.execute(
        "INSERT INTO outbox (created, topic, payload, qos, retain) VALUES (?, 't/event', ?, 1, 0)",
        (time.time(), start),
    )
    old.execute("INSERT INTO open_events (event_id, topic, payload) VALUES ('a', 't/event', ?)", (start,))
    old.commit()
    old.close()
    box = Outbox(path, max_events=2, max_snapshots=1)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 3
    assert [r.payload for r in box.after(0, 10)] == [start] and box.open_events() == [("t/event", start)]
    for i in range(2):
        box.add("t/event/snapshot", f'{{"s":{i}}}', kind="snapshot")
    box.add("t/event", '{"id":"a","state":"end"}', event=("a", "end"))
    assert box.prune() == 1 and box.dropped_snapshots == 1 and box.dropped == 0  # the old row is an event
    assert [r.payload for r in box.after(0, 10)] == [start, '{"s":1}', '{"id":"a","state":"end"}']
    assert box.open_events() == []
    box.close()
    # reopening a format 3 file changes nothing
    again = Outbox(path)
    assert again.depth() == 3
    assert sqlite3.connect(path).execute("SELECT kind FROM outbox ORDER BY id").fetchall() == [
        ("event",),
        ("snapshot",),
        ("event",),
    ]
    again.close()
