"""An incremental source's cursor: where the last pull stopped, kept in the bronze table's own
Delta log, committed with the rows it pulled.

A pull writes its records to `landing/<source>/<stamp>.ndjson` and its new state beside them as
the dotfile `.<stamp>.ndjson.cursor.json` (written first; the ingest never takes dotfiles). The
ingest that commits the file into `bronze.<source>` puts that state into the same commit's
metadata (`rat.source_state`), so the rows and the cursor that follows them are one atomic commit:
a crash before it leaves both as they were (the file still waits in landing/, and is ingested
before the source is pulled again), a crash after it leaves both done.

Nothing is lost on the boundary and nothing doubles: a pull asks for values `>=` the last one
(minus the lookback), and drops each record that bronze already holds byte for byte. Records
carry `_record_hash` (XXH3-64 of the record's canonical JSON) for that; only the hashes of the
records at or before the last value are looked up, so the state itself stays a few hundred bytes
however many records share a cursor value.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STATE_KEY = "rat.source_state"
HASH_FIELD = "_record_hash"
SIDECAR_SUFFIX = ".cursor.json"


def sidecar(data_file: Path) -> Path:
    return data_file.with_name(f".{data_file.name}{SIDECAR_SUFFIX}")


def record_hash(record: dict[str, Any]) -> str:
    import xxhash

    canonical = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return xxhash.xxh3_64_hexdigest(canonical.encode())


def dig(record: Any, path: str) -> Any:
    node = record
    for part in path.split("."):
        if isinstance(node, dict):
            if part not in node:
                return None
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


class Value:
    """A cursor value, comparable: a number, a time (ISO 8601; naive means UTC) or else text."""

    def __init__(self, raw: str | int | float) -> None:
        self.raw = raw
        self.time: datetime | None = None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            self.key: tuple[int, Any] = (0, float(raw))
            return
        text = str(raw)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00")) if len(text) >= 10 else None
        except ValueError:
            moment = None
        if moment is not None:
            self.time = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            self.key = (1, self.time)
        else:
            self.key = (2, text)

    def __lt__(self, other: Value) -> bool:
        return self.key < other.key if self.key[0] == other.key[0] else self.key[0] < other.key[0]

    def __le__(self, other: Value) -> bool:
        return not other < self

    def minus(self, lookback: float) -> str | int | float:
        """This value moved back by `lookback` (seconds for a time), written as it was written."""
        if not lookback:
            return self.raw
        if self.time is not None:
            return _like(self.time - timedelta(seconds=lookback), str(self.raw))
        if self.key[0] == 0:
            back = float(self.raw) - lookback
            return int(back) if isinstance(self.raw, int) and back.is_integer() else back
        return self.raw  # text: no window to go back by


def _like(moment: datetime, example: str) -> str:
    """`moment` in the style of `example` (a date; Z, an offset or none; with or without fractions)."""
    if len(example) == 10:
        return moment.astimezone(UTC).date().isoformat()
    sep = "T" if "T" in example else " "
    spec = "microseconds" if "." in example else "seconds"
    if re.search(r"[+-]\d\d:?\d\d$", example):
        return moment.isoformat(sep, spec)
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep, spec)
    return text + "Z" if example.endswith("Z") else text


def now_like(example: str | int | float | None) -> str:
    """The pull's upper bound, the time it starts, written like the cursor's values."""
    now = datetime.now(UTC)
    return _like(now, example) if isinstance(example, str) else now.isoformat().replace("+00:00", "Z")


def stored_state(table_path: Path) -> dict[str, Any] | None:
    """The state committed with the table's current rows: the newest commit carrying one, looking
    through a rollback (RESTORE) to the version it published again."""
    from rat_tui.engine import lake

    dt = lake.open_table(table_path)
    if dt is None:
        return None
    for entry in _with_restores(_newest_first(dt)):
        raw = entry.get(STATE_KEY)
        if raw:
            state = json.loads(raw)
            return state if isinstance(state, dict) else None
    return None


def _newest_first(dt: Any, first: int = 20) -> Iterator[dict[str, Any]]:
    """The table's commits, newest first. The state is nearly always in the newest: the whole log
    is read only when the first few do not have it."""
    recent = dt.history(first)
    yield from recent
    if len(recent) == first:
        yield from dt.history()[first:]


def _with_restores(history: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The commits, newest first, skipping those a rollback (RESTORE) undid."""
    below: int | None = None
    for entry in history:
        version = entry.get("version")
        if below is not None and isinstance(version, int) and version > below:
            continue
        if entry.get("operation") == "RESTORE":
            target = (entry.get("operationParameters") or {}).get("version")
            if target is not None:
                below = int(target)
            continue
        yield entry


def committed_state(files: list[Path]) -> str | None:
    """The state an ingest commits with these landing files: the newest pull's (by file name,
    the pull's UTC time), or None when none of them came from an incremental pull."""
    found = sorted((f.name, sc) for f in files if (sc := sidecar(f)).is_file())
    if not found:
        return None
    return found[-1][1].read_text(encoding="utf-8")


def landed_hashes(table_path: Path, hashes: set[str]) -> set[str]:
    """Which of these record hashes the table already holds."""
    if not hashes:
        return set()
    from rat_tui.engine import lake

    dt = lake.open_table(table_path)
    if dt is None or HASH_FIELD not in lake.arrow_schema(dt).names:
        return set()
    import pyarrow as pa
    import pyarrow.dataset as ds

    wanted = pa.array(sorted(hashes), type=pa.string())
    found = current_columns(dt, [HASH_FIELD], ds.field(HASH_FIELD).isin(wanted))
    return set(found.column(HASH_FIELD).to_pylist())


def current_columns(dt: Any, columns: list[str], where: Any = None) -> Any:
    """These columns of the table's current version (a pyarrow Table), `where` a dataset filter.

    Read as plain Parquet files, not through deltalake's `to_pyarrow_dataset()`: a filtered scan
    through that left a thread behind that aborted the process at exit ("terminate called
    without an active exception", 32 exits in 40 here), after rat had done its work. Files
    written before a column existed read it as nulls.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    from rat_tui.engine import lake

    full = lake.arrow_schema(dt)
    schema = pa.schema([full.field(c) for c in columns])
    files = [uri.removeprefix("file://") for uri in dt.file_uris()]
    return ds.dataset(files, format="parquet", schema=schema).to_table(columns=columns, filter=where)


def write_state(path: Path, state: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        json.dump(state, out, separators=(",", ":"))
        out.flush()
        os.fsync(out.fileno())
