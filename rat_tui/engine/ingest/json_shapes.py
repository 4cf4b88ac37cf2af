"""Records whose values change type, typed without losing or changing a value.

polars types JSON fast but refuses a field that is sometimes a string and sometimes an object (the
whole file would be quarantined) and turns `true` beside `2` into `1`. Here each field's *shape* is
merged over every record: numbers stay numbers (integers beside decimals become decimals), objects
become structs with the union of their fields, lists lists; a field mixing plain values (`2` and
`"2"`, `true` and `1`) is text (`"2"`, `"true"`); one mixing objects or lists with anything else is
the JSON text of each value (`{"b":1}`, `"x"`, `[1]`), which DuckDB's JSON functions read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_NESTING = 32  # deeper values are kept as JSON text (polars recurses on deep types)
_INT64 = (-(2**63), 2**63 - 1)
_SCALARS = ("bool", "int", "float", "str", "bigint", "text")


@dataclass
class Shape:
    kind: str  # null | bool | int | float | str | bigint | text | struct | list | json
    fields: dict[str, Shape] = field(default_factory=dict)  # struct
    item: Shape | None = None  # list: the merged shape of its items (None: only empty lists)


_NULL = Shape("null")


def shape_of(value: Any) -> Shape:
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return Shape("bool")
    if isinstance(value, int):
        return Shape("int" if _INT64[0] <= value <= _INT64[1] else "bigint")
    if isinstance(value, float):
        return Shape("float")
    if isinstance(value, str):
        return Shape("str")
    if isinstance(value, dict):
        if not value:
            return Shape("json")  # {} has no columns to type: its text
        return Shape("struct", {str(k): shape_of(v) for k, v in value.items()})
    if isinstance(value, list):
        item: Shape | None = None
        for v in value:
            item = merge(item, shape_of(v))
        return _list(item)
    return Shape("json")


def _list(item: Shape | None) -> Shape:
    """A list whose items mix objects and plain values is its JSON text as a whole (`[1,{"k":"v"}]`)."""
    return Shape("json") if item is not None and item.kind == "json" else Shape("list", item=item)


def merge(a: Shape | None, b: Shape) -> Shape:
    """The shape that holds values of both shapes without changing any."""
    if a is None or a.kind == "null":
        return b
    if b.kind == "null":
        return a
    if a.kind == b.kind:
        if a.kind == "struct":
            fields = dict(a.fields)
            for k, s in b.fields.items():
                fields[k] = merge(fields.get(k), s)
            return Shape("struct", fields)
        if a.kind == "list":
            return _list(a.item if b.item is None else merge(a.item, b.item))
        return a
    kinds = {a.kind, b.kind}
    if kinds == {"int", "float"}:
        return Shape("float")
    if kinds == {"int", "bigint"}:
        return Shape("bigint")
    if kinds <= set(_SCALARS):
        return Shape("text")
    return Shape("json")


def depth(shape: Shape | None) -> int:
    if shape is None:
        return 0
    if shape.kind == "struct":
        return 1 + max((depth(s) for s in shape.fields.values()), default=0)
    if shape.kind == "list":
        return 1 + depth(shape.item)
    return 0


def records_shape(records: list[dict[str, Any]]) -> dict[str, Shape]:
    """Each field's shape over all records; a field nested past MAX_NESTING is its JSON text."""
    fields: dict[str, Shape] = {}
    for record in records:
        for k, v in record.items():
            key = str(k)
            fields[key] = merge(fields.get(key), shape_of(v))
    return {k: Shape("json") if depth(s) > MAX_NESTING else s for k, s in fields.items()}


def dtype(shape: Shape | None) -> Any:
    import polars as pl

    if shape is None or shape.kind == "null":
        return pl.Null
    simple = {"bool": pl.Boolean, "int": pl.Int64, "float": pl.Float64}
    if shape.kind in simple:
        return simple[shape.kind]
    if shape.kind == "struct":
        return pl.Struct([pl.Field(k, dtype(s)) for k, s in shape.fields.items()])
    if shape.kind == "list":
        return pl.List(dtype(shape.item))
    return pl.String


def convert(value: Any, shape: Shape | None) -> Any:
    if value is None or shape is None:
        return None
    kind = shape.kind
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if kind in ("text", "bigint"):
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if kind == "float":
        return float(value)
    if kind == "struct":
        return {k: convert(value.get(k), s) for k, s in shape.fields.items()}
    if kind == "list":
        return [convert(v, shape.item) for v in value]
    return value


def records_frame(records: list[Any]) -> Any:
    """A DataFrame of JSON values: objects are rows; plain values (an array of them, or mixed with
    objects) are one column `value` (the JSON text of each, when objects are among them)."""
    import polars as pl

    if records and not all(isinstance(r, dict) for r in records):
        containers = any(isinstance(r, (dict, list)) for r in records)
        records = [
            {"value": json.dumps(r, ensure_ascii=False, separators=(",", ":")) if containers and r is not None else r}
            for r in records
        ]
    shapes = records_shape(records)
    schema = {k: dtype(s) for k, s in shapes.items()}
    rows = [{k: convert(r.get(k), s) for k, s in shapes.items()} for r in records]
    return pl.from_dicts(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


def has_numbers(dt: Any) -> bool:
    """Whether a polars type holds a number anywhere (where polars may have read `true` as 1)."""
    import polars as pl

    if isinstance(dt, pl.Struct):
        return any(has_numbers(f.dtype) for f in dt.fields)
    if isinstance(dt, (pl.List, pl.Array)):
        return has_numbers(dt.inner)
    return bool(dt.is_numeric())


def nesting(dt: Any) -> int:
    import polars as pl

    deepest, stack = 0, [(dt, 0)]
    while stack:
        t, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(t, pl.Struct):
            stack.extend((f.dtype, level + 1) for f in t.fields)
        elif isinstance(t, (pl.List, pl.Array)):
            stack.append((t.inner, level + 1))
    return deepest


def deep_as_text(frame: Any) -> Any:
    """Columns nested deeper than MAX_NESTING as their JSON text (DuckDB's JSON functions read it)."""
    from rat_tui.engine.ingest.frames import json_text

    deep = [n for n, t in frame.collect_schema().items() if nesting(t) > MAX_NESTING]
    if not deep:
        return frame
    import polars as pl

    return frame.with_columns([json_text(pl.col(n)).alias(n) for n in deep])
