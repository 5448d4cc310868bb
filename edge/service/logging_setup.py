"""Logging for the daemon: stderr, which journald collects under systemd.

- stderr connected to the journal ($JOURNAL_STREAM matches stderr) and systemd-python importable:
  records go to journald natively with structured fields (EDGE_POSE_DEVICE, LOGGER, CODE_*, …), so
  `journalctl EDGE_POSE_DEVICE=cam-01` works across a fleet's collected logs.
- stderr connected to the journal without systemd-python: each line starts with a `<N>` syslog
  priority prefix, which journald turns into the entry's PRIORITY (sd-daemon(3)), and no timestamp.
- otherwise (a terminal, a test): `time level logger: message`."""

from __future__ import annotations

import importlib
import logging
import os
import sys

JOURNAL_STREAM_ENV = "JOURNAL_STREAM"
SYSLOG_IDENTIFIER = "edge-pose"
QUIET_LOGGERS = ("paho", "PIL", "matplotlib")  # chatty third-party loggers kept at WARNING

# logging level → syslog priority (sd-daemon(3) prefixes: <3> error … <7> debug)
SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class PriorityPrefixFormatter(logging.Formatter):
    """`<N>logger: message` lines for journald's stderr capture."""

    def format(self, record: logging.LogRecord) -> str:
        priority = SYSLOG_PRIORITY.get(record.levelno, 6)
        text = super().format(record).replace("\n", " | ")  # one journal entry per record
        return f"<{priority}>{text}"


def stderr_is_journal(environ: dict[str, str] | None = None) -> bool:
    """True when stderr is the journal stream systemd connected ($JOURNAL_STREAM = `dev:inode`)."""
    env = os.environ if environ is None else environ
    value = env.get(JOURNAL_STREAM_ENV, "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        stat = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return stat.st_dev == device and stat.st_ino == inode


def journal_handler(device_id: str) -> logging.Handler | None:
    """systemd-python's JournalHandler with our fields, or None when systemd-python is absent."""
    try:
        journal = importlib.import_module("systemd.journal")
    except ImportError:
        return None
    handler: logging.Handler = journal.JournalHandler(
        SYSLOG_IDENTIFIER=SYSLOG_IDENTIFIER, EDGE_POSE_DEVICE=device_id
    )
    return handler


def setup_logging(level: str, device_id: str) -> str:
    """Configure the root logger for the daemon; returns which output was chosen
    (`journal`, `journal-stderr` or `stderr`)."""
    handler: logging.Handler | None = None
    mode = "stderr"
    if stderr_is_journal():
        handler = journal_handler(device_id)
        mode = "journal" if handler is not None else "journal-stderr"
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        if mode == "journal-stderr":
            handler.setFormatter(PriorityPrefixFormatter("%(name)s: %(message)s"))
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return mode
