"""Secrets are never shown: the one function that masks the password of any URL in a text (a camera's
`rtsp://user:secret@host/...`), used wherever a config value or a source name is shown: errors,
`check-config --show`, logs, stats and message `source` fields."""

from __future__ import annotations

import re

# scheme://user:PASSWORD@ — the password runs to the last '@' before the host (a literal '@' in a
# password should be percent-encoded, but users write it as is)
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/@:'\"]*:)[^\s/'\"]*(@)")


def mask_passwords(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***`."""
    return _URL_PASSWORD.sub(r"\1***\2", text)
