"""Errors a user can act on: one line naming the file or key and the problem, and an exit code."""

from __future__ import annotations

# sysexits.h codes, so systemd and scripts can tell a bad config from bad input.
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_CONFIG = 78


class EdgeError(Exception):
    """An error reported as one line without a traceback; `exit_code` is what the CLI exits with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ModelError(EdgeError):
    """A model that is unknown, missing, corrupt (checksum) or fails to load."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EX_DATAERR)


class InputError(EdgeError):
    """An input image or video that cannot be read or decoded."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EX_NOINPUT)


class ConfigError(EdgeError):
    """A config file that is invalid; the message names the key path. Exit 78 (EX_CONFIG)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EX_CONFIG)


class PartialInputError(EdgeError):
    """A video that ends before the frame count its container states: truncated, or frames that do not
    decode. Exit 65 (EX_DATAERR) unless the user accepts partial input (replay --accept-partial)."""

    def __init__(self, path: str, read: int, expected: int) -> None:
        super().__init__(
            f"{path}: truncated or partly undecodable: read {read} of the {expected} frames its container "
            "states",
            EX_DATAERR,
        )
        self.path = path
        self.read = read
        self.expected = expected
