"""The one strict loader for every file edge-pose reads settings or labels from: the daemon config,
`--rules` files and label files (YAML, or JSON, which YAML reads too).

Reading (`read_document`): YAML 1.2 core types only, so a value means the same in every YAML tool. A
plain `yes`, `no`, `on`, `off`, `y` or `n` is refused (YAML 1.1 reads them as booleans, YAML 1.2 as
strings: write true/false, or quote the word); `1:30`, `2024-01-01` and `0755` are not turned into
numbers or dates behind the user's back. A key given twice in one mapping is refused with its key path
and both lines (PyYAML would keep the last one silently).

Validating (`validate_section`): a `Section` model (unknown keys are errors, strict types: `"0.5"` is not
a number, `0`/`1` are not booleans, `5` is not the string "5", NaN and infinity are not numbers), one
line per problem, `FILE: key.path: what is wrong`, and exit code 78 (EX_CONFIG)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from edge.errors import ConfigError
from edge.redact import mask_passwords

MAX_DOCUMENT_BYTES = 1 << 20  # configs and label files are a few kB; refuse to parse anything absurdly large
# Words YAML 1.1 reads as booleans and YAML 1.2 as strings (true/false mean the same in both).
YAML11_BOOLEANS = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")


class Section(BaseModel):
    """Base of every settings model read from a file: unknown keys are errors, types are taken
    strictly (no numbers from strings, no booleans from 0/1), values are immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class _CoreSchemaLoader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit types (null, bool, int, float) instead of
    YAML 1.1's (yes/no/on/off booleans, sexagesimal and octal numbers, timestamps, merge keys)."""


_CoreSchemaLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
):
    _CoreSchemaLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def _core_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)  # YAML 1.2: a leading zero is still decimal


def _core_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


_CoreSchemaLoader.add_constructor("tag:yaml.org,2002:int", _core_int)
_CoreSchemaLoader.add_constructor("tag:yaml.org,2002:bool", _core_bool)


def _path(parent: str, part: object) -> str:
    return f"{parent}.{part}" if parent else str(part)


def _check_nodes(root: yaml.Node, origin: str) -> None:
    """Refuse duplicate keys and YAML 1.1 booleans anywhere in the document (one error, the first)."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, where = stack.pop()
        if id(node) in seen_nodes:
            continue  # an alias of a node already checked
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[tuple[str, str], int] = {}
            children = []
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                ident = (key_node.tag, key)
                line = key_node.start_mark.line + 1
                if ident in first_line:
                    raise ConfigError(
                        f"{origin}: {_path(where, key)}: duplicate key (lines {first_line[ident]} and {line})"
                    )
                first_line[ident] = line
                children.append((value_node, _path(where, key)))
            stack += reversed(children)
        elif isinstance(node, yaml.SequenceNode):
            stack += reversed([(item, _path(where, i)) for i, item in enumerate(node.value)])
        elif isinstance(node, yaml.ScalarNode) and node.style is None and YAML11_BOOLEANS.match(node.value):
            raise ConfigError(
                f"{origin}: {where or '(top level)'}: {node.value!r} (line {node.start_mark.line + 1}) is a "
                "YAML 1.1 boolean and a YAML 1.2 string: write true or false, or quote it for a string"
            )


def read_document(path: str | Path) -> Any:
    """Parse the YAML (or JSON) file at `path` strictly (see the module docstring); ConfigError naming
    the file, and the key path where there is one, on a missing file, bad syntax, a duplicate key or a
    YAML 1.1 boolean. Returns the plain data (None for an empty file)."""
    origin = str(path)
    p = Path(path)
    try:
        if p.stat().st_size > MAX_DOCUMENT_BYTES:
            raise ConfigError(f"{origin}: larger than {MAX_DOCUMENT_BYTES} bytes, not a settings file")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{origin}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{origin}: is a directory") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{origin}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{origin}: cannot read: {exc.strerror}") from None
    loader = _CoreSchemaLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, origin)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise ConfigError(f"{origin}: {where}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _key_path(loc: tuple[int | str, ...], prefix: str) -> str:
    path = ".".join([prefix, *map(str, loc)] if prefix else map(str, loc))
    return path or "(top level)"


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model a key path points into (for 'did you mean' suggestions)."""
    model: type[BaseModel] = root
    for part in loc:
        if isinstance(part, int):
            continue  # a list index: the element model is what the field's annotation names
        field = model.model_fields.get(part)
        if field is None:
            return None
        nested = _nested_models(field.annotation)
        if not nested:
            return None
        model = nested[0]
    return model


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found += _nested_models(arg)
    return found


def _short(value: Any) -> str:
    text = repr(mask_passwords(value)) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(root: type[BaseModel], error: Any) -> str:
    """One readable phrase for one pydantic error."""
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        hint = ""
        if parent is not None:
            close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind in {"value_error", "assertion_error"}:
        return mask_passwords(
            str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        )
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return f"expected a mapping of keys, got {_short(error['input'])}"
    message = str(error["msg"])
    message = message[0].lower() + message[1:]
    if kind.endswith("_type") and isinstance(error.get("input"), str) and kind != "string_type":
        message += " (a quoted value is a string: write the number or true/false without quotes)"
    return f"{message} (got {_short(error['input'])})"


Model = TypeVar("Model", bound=BaseModel)


def validate_section(model: type[Model], document: Any, origin: str, prefix: str = "") -> Model:
    """Validate parsed `document` as `model`; ConfigError with one line per problem,
    `origin: prefix.key.path: problem` (unknown keys first: a misspelt key also shows up as the
    missing key it was meant to be)."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        lines = [f"{origin}: {_key_path(tuple(e['loc']), prefix)}: {_describe(model, e)}" for e in errors]
        raise ConfigError("\n".join(lines)) from None
