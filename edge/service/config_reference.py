"""The config reference, generated from the config models so the docs cannot drift from the code:
docs/config.example.yaml (every key with its default and a comment) and the key table in
docs/config.md (between the GENERATED markers). A test compares both with what this renders.

    python -m edge.service.config_reference docs/config.example.yaml docs/config.md   # rewrite them
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from edge.config import AppConfig
from edge.pose.manifest import find_model
from edge.pose.registry import DEFAULT_MODEL

EXAMPLE_REQUIRED = {"device.id": "cam-01", "camera.source": "picamera2"}  # required keys: example values
BEGIN = "<!-- GENERATED: config keys (python -m edge.service.config_reference) -->"
END = "<!-- END GENERATED -->"
WRAP = 100  # comment width in the example file


def _nested_model(info: FieldInfo) -> type[BaseModel] | None:
    annotation = info.annotation
    if typing.get_origin(annotation) is list:
        return None  # lists (e.g. zones) are shown as values, not expanded
    for candidate in typing.get_args(annotation) or (annotation,):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return None if info.default is PydanticUndefined else info.default


def _scalar(value: Any) -> str:
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (types.UnionType, typing.Union):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is list:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "mapping"
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "Path": "path"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation)


def _bounds(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            parts.append(f"≥ {item.ge}")
        elif isinstance(item, annotated_types.Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, annotated_types.Le):
            parts.append(f"≤ {item.le}")
        elif isinstance(item, annotated_types.Lt):
            parts.append(f"< {item.lt}")
        elif isinstance(item, annotated_types.MinLen) and item.min_length > 1:
            parts.append(f"length ≥ {item.min_length}")
        elif isinstance(item, annotated_types.MaxLen):
            parts.append(f"length ≤ {item.max_length}")
        elif hasattr(item, "pattern") and item.pattern:
            parts.append(f"pattern `{item.pattern}`")
    return ", ".join(parts)


def _comment_lines(text: str, indent: str) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(indent) + 2 + len(line) + 1 + len(word) > WRAP:
            lines.append(f"{indent}# {line}")
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(f"{indent}# {line}")
    return lines


def _example(model: type[BaseModel], prefix: str, depth: int, defaults: BaseModel | None) -> list[str]:
    """Lines for every key of `model` (values from the instance `defaults` when there is one, so a
    nested section shows its own defaults, e.g. BlazePose's filter constants)."""
    indent = "  " * depth
    out: list[str] = []
    for name, info in model.model_fields.items():
        key = prefix + name
        out += _comment_lines(info.description or "", indent)
        nested = _nested_model(info)
        default = getattr(defaults, name) if defaults is not None else _default(info)
        if nested is not None and (default is not None or info.is_required()):
            block = [f"{indent}{name}:", *_example(nested, key + ".", depth + 1, default)]
            if key.startswith("pose.") and depth == 1 and name != _default_family():
                # A family the default model does not use: a live section would be refused.
                out.append(f"{indent}# (only when model.name or model.fallback is a {name} model)")
                block = [f"{indent}# {line.removeprefix(indent)}" for line in block]
            out += block
        elif nested is not None:  # an optional section, off by default: show its keys commented out
            out.append(f"{indent}{name}: null")
            out.append(f"{indent}# {name}:")
            for sub, sub_info in nested.model_fields.items():
                value = _default(sub_info)
                shown = _scalar(value) if value is not None or not sub_info.is_required() else "<required>"
                out.append(f"{indent}#   {sub}: {shown}  # {sub_info.description}")
        elif info.is_required():
            out.append(f"{indent}{name}: {_scalar(EXAMPLE_REQUIRED[key])}  # required")
        else:
            out.append(f"{indent}{name}: {_scalar(default)}")
    return out


def _default_family() -> str:
    """The model family of the default model (its `pose:` section is the one a default config runs)."""
    return find_model(DEFAULT_MODEL).family


def example_yaml() -> str:
    """docs/config.example.yaml: every key, its default (example values for required ones)."""
    head = [
        "# edge-pose daemon config: every key with its default. Generated from edge/config.py by",
        "# `python -m edge.service.config_reference`; reference: docs/config.md.",
        "# Validate a config with: edge-pose check-config FILE [--credentials-dir DIR]",
        "",
    ]
    return "\n".join(head + _example(AppConfig, "", 0, None)) + "\n"


def _table(model: type[BaseModel], prefix: str, rows: list[str], defaults: BaseModel | None) -> None:
    for name, info in model.model_fields.items():
        key = prefix + name
        nested = _nested_model(info)
        value = getattr(defaults, name) if defaults is not None else _default(info)
        default = "required" if info.is_required() else f"`{_scalar(value)}`"
        if nested is not None:
            default = "(section)" if value is not None or info.is_required() else "`null`"
        description = (info.description or "").replace("|", "\\|")
        bounds = _bounds(info)
        type_name = _type_name(info.annotation).replace("|", "\\|")
        rows.append(f"| `{key}` | {type_name} | {default} | {bounds} | {description} |")
        if nested is not None:
            _table(nested, key + ".", rows, value if isinstance(value, BaseModel) else None)


def reference_table() -> str:
    """The key table for docs/config.md (between the GENERATED markers)."""
    rows = ["| key | type | default | bounds | meaning |", "|---|---|---|---|---|"]
    _table(AppConfig, "", rows, None)
    return "\n".join([BEGIN, *rows, END])


def splice(markdown: str, table: str) -> str:
    """`markdown` with its generated block replaced by `table`."""
    start, end = markdown.index(BEGIN), markdown.index(END) + len(END)
    return markdown[:start] + table + markdown[end:]


def main(argv: list[str]) -> int:
    """Rewrite the example YAML (argv[0]) and the generated block of the markdown (argv[1])."""
    example, markdown = Path(argv[0]), Path(argv[1])
    example.write_text(example_yaml())
    markdown.write_text(splice(markdown.read_text(), reference_table()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
