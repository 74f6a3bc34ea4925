"""Generate the field tables of docs/state.md from the ``state.json`` dataclasses.

    python tools/state_doc.py           # rewrite the generated part of docs/state.md
    python tools/state_doc.py --check   # exit 1 if docs/state.md is stale (the test suite checks the same)

The tables live between two markers in docs/state.md; the prose around them is
hand-written.  Types and meanings come from ``tbot_core/state_schema.py`` (each
field's ``doc``), so the page cannot drift from what the core writes and the
console reads.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tbot_core import state_schema  # noqa: E402 (after the path insert, so the tool runs from anywhere)
from tbot_core.state_codec import OPTIONAL_KEY  # noqa: E402
from tbot_core.state_schema import CoreState  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "state.md"
BEGIN = "<!-- begin generated: python tools/state_doc.py (from tbot_core/state_schema.py); do not edit by hand -->"
END = "<!-- end generated -->"
NAMED = {state_schema.Money: "money", state_schema.UtcTime: "time"}
SCALARS = {str: "text", int: "int", float: "number", bool: "bool", Decimal: "decimal"}


def type_text(tp: Any) -> str:
    if tp in NAMED:
        return NAMED[tp]
    if tp in SCALARS:
        return SCALARS[tp]
    if tp is Any:
        return "any JSON"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "\\|".join(f"`{m.value}`" for m in tp)
    if dataclasses.is_dataclass(tp):
        return f"`{tp.__name__}`"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return f"{type_text(inner)} or null"
    if origin is tuple:
        return f"list of {type_text(args[0])}"
    if origin is Mapping:
        return f"{{text: {type_text(args[1])}}}"
    raise TypeError(f"no doc text for {tp!r}")


def nested(tp: Any) -> list[type]:
    """The dataclasses a field's type refers to, outermost first."""
    if dataclasses.is_dataclass(tp):
        return [tp]
    return [cls for arg in typing.get_args(tp) for cls in nested(arg)]


def table(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    lines = ["| key | type | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(cls):
        meaning, tp = f.metadata.get("doc", ""), hints[f.name]
        if f.metadata.get(OPTIONAL_KEY):  # left out while None, never written as null
            (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
            lines.append(f"| `{f.name}` | {type_text(tp)} (optional) | {meaning} |")
            continue
        lines.append(f"| `{f.name}` | {type_text(tp)} | {meaning} |")
    return lines


def render() -> str:
    """Every dataclass reachable from ``CoreState``, breadth first, one table each."""
    out: list[str] = []
    queue, seen = [CoreState], {CoreState}
    while queue:
        cls = queue.pop(0)
        title = "The file" if cls is CoreState else f"`{cls.__name__}`"
        out += [f"### {title}", "", *table(cls), ""]
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            for found in nested(hints[f.name]):
                if found not in seen:
                    seen.add(found)
                    queue.append(found)
    return "\n".join(out).rstrip() + "\n"


def with_tables(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, found, tail = rest.partition(END)
    if not found:
        raise SystemExit(f"{DOC}: markers missing ({BEGIN} ... {END})")
    return f"{head}{BEGIN}\n\n{render()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/state.md is stale")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    fresh = with_tables(text)
    if args.check:
        if fresh != text:
            print("docs/state.md is stale: run `python tools/state_doc.py`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
