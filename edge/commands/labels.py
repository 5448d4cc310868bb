"""Label files for `edge-pose eval-events`, read by the one strict loader (edge/loader.py): what a file
shows, a fall (from which frame) or no fall.

Two formats, in `files:` and/or `videos:` sections keyed by file name:
- a word: `fall` (also `falls`, `down`) or `not-fall` (also `not_fall`, `no-fall`, `adl`, ...);
- a clip entry: the shared data's `labels.json` formats, `{"class": "fall" | "adl", "events": [{"type":
  "fall", "frames": [first, last]}, ...]}` (fall_clips) or `{"fall": "~103-~117"}` (fall_video_care_home),
  with their descriptive keys. Unknown keys, a misspelt class and a fall clip without its fall frames are
  errors naming the key path, so a typo cannot turn a fall into a negative."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from edge.errors import ConfigError
from edge.loader import Section, read_document, validate_section

POSITIVE_NAMES = frozenset({"fall", "falls", "down"})
NEGATIVE_NAMES = frozenset({"not-fall", "not_fall", "notfall", "no-fall", "no_fall", "adl"})


@dataclass(frozen=True, slots=True)
class Label:
    """What a file shows: a fall (from `fall_start` on, for clips) or no fall."""

    fall: bool
    fall_start: int | None = None  # first frame of the fall in a clip; None: the whole file


def word_label(word: str) -> Label | None:
    """The label a word (a label value or a folder name) stands for, or None."""
    name = word.strip().lower()
    if name in POSITIVE_NAMES:
        return Label(True)
    if name in NEGATIVE_NAMES:
        return Label(False)
    return None


class ClipEvent(Section):
    """One labelled phase of a clip (fall_clips' `events`)."""

    type: str = Field(min_length=1, description="fall, on_floor, upright, sitting, ...")
    frames: tuple[int, int] = Field(description="first and last frame, 0-based, inclusive")

    @field_validator("frames", mode="before")
    @classmethod
    def _pair(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value


class ClipLabel(Section):
    """A clip entry of a labels.json: `class` + `events` (fall_clips) or a `fall` range (care home)."""

    label_class: Literal["fall", "adl"] | None = Field(None, alias="class")
    events: list[ClipEvent] = Field(default_factory=list)
    fall: str | None = Field(None, description='frame range of the fall, e.g. "~103-~117"')
    # Descriptive keys of the shared data's label files (read, not used).
    frames: int | None = None
    fps: float | None = None
    size: list[int] | None = None
    persons: int | None = None
    dataset: str | None = None
    camera: str | None = None
    label_source: str | None = None
    description: str | None = None
    source: dict[str, str] | None = None
    derived_from: str | None = None
    official_label_runs: list[dict[str, Any]] | None = None
    before_fall: str | None = None
    on_floor: str | None = None

    @model_validator(mode="after")
    def _says_what_it_shows(self) -> ClipLabel:
        if self.label_class is None and self.fall is None:
            raise ValueError("a clip entry needs `class` (fall/adl) or a `fall` frame range")
        if self.fall is not None and not re.search(r"\d", self.fall):
            raise ValueError(f"fall: {self.fall!r} has no frame number")
        if (
            self.label_class == "fall"
            and self.fall is None
            and not any(e.type == "fall" for e in self.events)
        ):
            raise ValueError("class fall needs a `fall` event with its frames")
        return self

    def label(self) -> Label:
        """A fall from its first frame, or no fall."""
        if self.fall is not None:
            match = re.search(r"\d+", self.fall)
            assert match is not None  # checked by the validator
            return Label(True, int(match.group()))
        if self.label_class == "fall":
            return Label(True, min(e.frames[0] for e in self.events if e.type == "fall"))
        return Label(False)


class LabelsFile(Section):
    """A whole label file (entries are checked one by one, so an error names `files.NAME.key`)."""

    files: dict[str, Any] = Field(default_factory=dict)
    videos: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    about: dict[str, Any] | None = Field(None, alias="_about")


def entry_label(value: Any, origin: str, where: str) -> Label:
    """The label of one entry (a word or a clip entry); ConfigError naming `where` otherwise."""
    if isinstance(value, dict):
        return validate_section(ClipLabel, value, origin, prefix=where).label()
    label = word_label(value) if isinstance(value, str) else None
    if label is None:
        raise ConfigError(
            f"{origin}: {where}: label {value!r} is neither 'fall', 'not-fall' nor a clip entry with a fall range"
        )
    return label


def read_labels(path: Path) -> dict[str, Label]:
    """File name → label from a labels file (`files:` and/or `videos:` sections)."""
    data = read_document(path)
    if not isinstance(data, dict) or not ({"files", "videos"} & set(data)):
        raise ConfigError(f"{path}: expected a mapping with a 'files' or 'videos' section")
    parsed = validate_section(LabelsFile, data, str(path))
    labels: dict[str, Label] = {}
    for section, entries in (("files", parsed.files), ("videos", parsed.videos)):
        for name, value in entries.items():
            labels[name] = entry_label(value, str(path), f"{section}.{name}")
    return labels
