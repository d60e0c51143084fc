"""Strict reading of bodies (docs/contract.md, "Encoding" and "Dead letters"): the rules a
kit component enforces, by the same names, so that this client never acts on a body the
contract forbids. (An event's envelope is checked first: ``envelope.check_envelope``.)

A body is one MessagePack map with ``str`` keys; wherever the message's JSON Schema has an
object, the value is a map too (MessagePack libraries also write objects as positional
arrays: refused); strings are ``str``, never ``bin``; nothing follows the value. Unknown
fields are ignored, whatever they hold.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional

import msgpack

# The rules, named as the kit's dead-letter kinds (`Mandate-Dlq-Kind`).
MISSING_HEADER = "missing-header"
INVALID_HEADER = "invalid-header"
UNKNOWN_TYPE = "unknown-type"
NOT_A_MAP = "not-a-map"
BINARY_STRING = "binary-string"
TRAILING_BYTES = "trailing-bytes"
UNDECODABLE = "undecodable"


class ContractError(ValueError):
    """A message that breaks a rule of the contract: which rule, where (``lines[0].sku``;
    empty for the top level or a header) and what was found."""

    def __init__(self, rule: str, path: str, message: str):
        self.rule = rule
        self.path = path
        self.message = message
        super().__init__(f"{rule} at {path}: {message}" if path else f"{rule}: {message}")


# ---- bodies --------------------------------------------------------------------------------


def decode(payload: bytes, schema: Optional[Mapping[str, Any]] = None) -> Any:
    """One body, strictly. With the message's JSON Schema every object it declares must be a
    map and every value must have its type; without one (a message this client has no schema
    for) the top level must be a map, every key a ``str``, and no value ``bin``."""
    if not payload:
        raise ContractError(UNDECODABLE, "", "an empty body: a body is a map, {} (0x80) when it has nothing to say")
    try:
        value = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except msgpack.ExtraData as extra:
        # As the kit: the value is judged first, what follows it after.
        _check_body(extra.unpacked, schema)
        raise ContractError(TRAILING_BYTES, "", "bytes after the body's MessagePack value") from None
    except TypeError as err:  # an array or a map as a key: unhashable
        raise ContractError(NOT_A_MAP, "", f"a map key that is not a string ({err})") from None
    except Exception as err:  # msgpack's FormatError, StackError, ValueError (truncated), UTF-8
        raise ContractError(UNDECODABLE, "", f"not MessagePack, or truncated ({err})") from None
    _check_body(value, schema)
    return value


def _check_body(value: Any, schema: Optional[Mapping[str, Any]]) -> None:
    if schema is not None:
        _check(value, schema, schema, "")
        return
    if isinstance(value, list):
        raise ContractError(NOT_A_MAP, "", "a struct encoded as an array")
    if not isinstance(value, dict):
        raise ContractError(UNDECODABLE, "", f"a {_kind(value)} where a body is a map")
    _check_any(value, "")


def _check(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], path: str) -> None:
    """``value`` against its ``schema`` (``root`` holds the ``$defs``)."""
    schema = _resolve(schema, root)
    types = _types(schema)
    if "object" in types:
        if isinstance(value, list):
            raise ContractError(NOT_A_MAP, path, "a struct encoded as an array")
        if not isinstance(value, dict):
            raise ContractError(UNDECODABLE, path, f"a {_kind(value)} where the schema has an object")
        _check_object(value, schema, root, path)
        return
    if value is None and "null" in types:
        return
    if isinstance(value, (bytes, bytearray)):
        if "string" in types:
            raise ContractError(BINARY_STRING, path, "a string encoded as bin")
        raise ContractError(UNDECODABLE, path, "bin where the schema has no bytes")
    if "string" in types:
        if not isinstance(value, str):
            raise ContractError(UNDECODABLE, path, f"a {_kind(value)} where the schema has a string")
        allowed = _allowed_strings(schema)
        if allowed is not None and value not in allowed:
            raise ContractError(UNDECODABLE, path, f"{value!r} is not one of the schema's values")
    elif "integer" in types:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ContractError(UNDECODABLE, path, f"a {_kind(value)} where the schema has an integer")
        if "minimum" in schema and value < schema["minimum"]:
            raise ContractError(UNDECODABLE, path, f"{value} is below the minimum {schema['minimum']}")
        bounds = _FORMAT_BOUNDS.get(schema.get("format", ""))
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise ContractError(UNDECODABLE, path, f"{value} does not fit the schema's {schema['format']}")
    elif "boolean" in types:
        if not isinstance(value, bool):
            raise ContractError(UNDECODABLE, path, f"a {_kind(value)} where the schema has a boolean")
    elif "array" in types:
        if not isinstance(value, list):
            raise ContractError(UNDECODABLE, path, f"a {_kind(value)} where the schema has an array")
        items = schema.get("items", {})
        for index, item in enumerate(value):
            _check(item, items, root, f"{path}[{index}]")
    elif types:
        raise ContractError(UNDECODABLE, path, f"a {_kind(value)} where the schema has {'/'.join(sorted(types))}")
    else:  # a schema that allows anything: the rules alone
        _check_any(value, path)


# The integer formats schemars writes, as the ranges of the Rust types they stand for: a kit
# reader refuses a value outside them (MessagePack integers go up to 2**64 - 1).
_FORMAT_BOUNDS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "int": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
    "uint": (0, 2**64 - 1),
}


def _check_object(value: dict, schema: Mapping[str, Any], root: Mapping[str, Any], path: str) -> None:
    properties = schema.get("properties", {})
    for key, item in value.items():
        _check_key(key, path)
        if key in properties:
            _check(item, properties[key], root, _field(path, key))
        # An unknown field is skipped, whatever it holds: a newer writer's additive change.
    for name in schema.get("required", []):
        if name not in value:
            raise ContractError(UNDECODABLE, path, f"missing field `{name}`")


def _check_any(value: Any, path: str) -> None:
    if isinstance(value, (bytes, bytearray)):
        raise ContractError(BINARY_STRING, path, "a string encoded as bin")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_key(key, path)
            _check_any(item, _field(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_any(item, f"{path}[{index}]")


def _check_key(key: Any, path: str) -> None:
    if isinstance(key, (bytes, bytearray)):
        raise ContractError(BINARY_STRING, path, "a map key encoded as bin")
    if not isinstance(key, str):
        raise ContractError(NOT_A_MAP, path, "a map key that is not a string")


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follows ``$ref: #/$defs/Name`` (schemars writes no other kind)."""
    seen = 0
    while "$ref" in schema and seen < 32:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
        seen += 1
    return schema


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    if "oneOf" in schema or "anyOf" in schema:
        found: set[str] = set()
        for option in schema.get("oneOf", []) + schema.get("anyOf", []):
            found |= _types(option)
        return found
    return set()


def _allowed_strings(schema: Mapping[str, Any]) -> Optional[set[str]]:
    """The values of an enumeration (``enum``, ``const``, or a ``oneOf`` of those), or None
    for a free string."""
    if "enum" in schema:
        return set(schema["enum"])
    if "const" in schema:
        return {schema["const"]}
    if "oneOf" in schema:
        values: set[str] = set()
        for option in schema["oneOf"]:
            allowed = _allowed_strings(option)
            if allowed is None:
                return None
            values |= allowed
        return values
    return None


def _field(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    return {dict: "map", list: "array", str: "string", bool: "boolean", int: "integer", float: "float"}.get(
        type(value), type(value).__name__
    )


# ---- the contract's schemas ----------------------------------------------------------------


class Contract:
    """The JSON Schemas of every message version (``schemas/json/`` of the repository):
    ``events/<type>.json`` and ``services/<operation>.{request,response}.json``."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._cache: dict[str, Optional[dict[str, Any]]] = {}

    @classmethod
    def find(cls, directory: Optional[str] = None) -> "Contract":
        """The schemas in ``directory``, else ``$MANDATE_SCHEMAS``, else the repository's
        ``schemas/json`` above this package (where ``scripts/python-client`` installs it)."""
        candidates = [directory, os.environ.get("MANDATE_SCHEMAS")]
        candidates += [str(parent / "schemas" / "json") for parent in Path(__file__).resolve().parents]
        for candidate in candidates:
            if candidate and (Path(candidate) / "events").is_dir():
                return cls(Path(candidate))
        raise FileNotFoundError(
            "cannot find the contract's JSON Schemas (schemas/json of the mandate repository): "
            "pass --schemas DIR or set MANDATE_SCHEMAS"
        )

    def event(self, event_type: str) -> Optional[dict[str, Any]]:
        """The schema of ``<owner>.<event>.v<N>``, or None for a type this contract lacks."""
        return self._load(f"events/{event_type}.json")

    def request(self, operation: str) -> Optional[dict[str, Any]]:
        return self._load(f"services/{operation}.request.json")

    def response(self, operation: str) -> Optional[dict[str, Any]]:
        return self._load(f"services/{operation}.response.json")

    def _load(self, relative: str) -> Optional[dict[str, Any]]:
        if relative not in self._cache:
            path = self.directory / relative
            # A name from the bus is not a path: no separators beyond our own.
            if ".." in relative or not path.is_file():
                self._cache[relative] = None
            else:
                self._cache[relative] = json.loads(path.read_text(encoding="utf-8"))
        return self._cache[relative]
