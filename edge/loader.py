"""The base of every settings model edge-pose reads from a file (the daemon config, its `pose:` and
`rules:` sections): unknown keys are errors and types are strict."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every settings model read from a file: unknown keys are errors, types are taken
    strictly (no numbers from strings, no booleans from 0/1), values are immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
