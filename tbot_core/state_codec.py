"""Frozen dataclasses to and from JSON, driven by their type hints: one codec for ``state.json``.

The core writes ``state.json`` and the console reads it with the same types,
so neither side keeps its own idea of a key's name or a value's type.  Money
and other decimals travel as strings (never through a float).  ``strict``
decoding refuses unknown keys, missing keys and wrong types — the tests and
the console's fixtures use it to prove a payload is what the core emits.  The
console decodes leniently: one unreadable section (another build's core, a
half-written value) becomes "absent" and shows a dash, instead of the whole
screen going blank.  Decoded values are deep-frozen (tuples and read-only
mappings) so a view handed to another thread cannot be changed under it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import cache
from typing import Any

# Field metadata: the key is left out of the JSON (not written as null) while the value is None.
OPTIONAL_KEY = "optional_key"


class SchemaError(ValueError):
    """A value that does not fit its field; the message names where (``pnl.history[3].pnl``)."""


def freeze(value: Any) -> Any:
    """A JSON value with lists as tuples and objects as read-only mappings."""
    if isinstance(value, Mapping):
        return types.MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None and f.metadata.get(OPTIONAL_KEY):
                continue
            out[f.name] = encode(item)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(tp: Any, value: Any, *, strict: bool, path: str = "$") -> Any:
    if isinstance(tp, typing.NewType):
        return decode(tp.__supertype__, value, strict=strict, path=path)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        try:
            return decode(inner, value, strict=strict, path=path)
        except SchemaError:
            if strict:
                raise
            return None  # lenient: an unreadable optional value is an absent one
    if tp is Any:
        return freeze(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a hint names a class, never an instance
        return _decode_object(tp, value, strict=strict, path=path)
    if origin is tuple:
        items = _expect(value, list, path)
        out = []
        for i, item in enumerate(items):
            try:
                out.append(decode(args[0], item, strict=strict, path=f"{path}[{i}]"))
            except SchemaError:
                if strict:
                    raise  # lenient: drop the row, keep the others
        return tuple(out)
    if origin is Mapping:
        items = _expect(value, dict, path)
        out_map = {}
        for key, item in items.items():
            try:
                out_map[str(key)] = decode(args[1], item, strict=strict, path=f"{path}.{key}")
            except SchemaError:
                if strict:
                    raise
        return types.MappingProxyType(out_map)
    return _decode_scalar(tp, value, path)


def _decode_object(cls: type, value: Any, *, strict: bool, path: str) -> Any:
    data = _expect(value, dict, path)
    known = {f.name: f for f in dataclasses.fields(cls)}
    if strict and (extra := sorted(set(data) - set(known))):
        raise SchemaError(f"{path}: unknown key(s) {', '.join(extra)}")
    hints = _hints(cls)
    kwargs = {}
    for name, f in known.items():
        if name in data:
            kwargs[name] = decode(hints[name], data[name], strict=strict, path=f"{path}.{name}")
        elif strict and not f.metadata.get(OPTIONAL_KEY):
            raise SchemaError(f"{path}: key {name} missing")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SchemaError(f"{path}: key {name} missing")
    return cls(**kwargs)


def _decode_scalar(tp: Any, value: Any, path: str) -> Any:
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise SchemaError(f"{path}: {value!r} is not one of {', '.join(m.value for m in tp)}") from None
    if tp is Decimal:
        text = _expect(value, str, path)
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise SchemaError(f"{path}: {text!r} is not a decimal string") from None
        if not amount.is_finite():
            raise SchemaError(f"{path}: {text!r} is not a finite decimal")
        return amount
    if tp is bool:
        return _expect(value, bool, path)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(f"{path}: expected an integer, got {type(value).__name__}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(f"{path}: expected a number, got {type(value).__name__}")
        return value
    if tp is str:
        return _expect(value, str, path)
    raise TypeError(f"{path}: no decoder for {tp!r}")  # a schema bug, not bad input


def _expect(value: Any, kind: type, path: str) -> Any:
    if not isinstance(value, kind):
        names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
        raise SchemaError(f"{path}: expected {names.get(kind, kind.__name__)}, got {type(value).__name__}")
    return value
