"""The rows of one ingest commit: the files' columns aligned to the table's, typed to the columns
the table will have, with lineage, staged as one Parquet file in the table's folder (invisible to
readers until the commit)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rat_tui.engine.errors import first_line
from rat_tui.engine.ingest.frames import Read
from rat_tui.engine.ingest.landing import LandingFile
from rat_tui.engine.ingest.schema import SchemaChange, conform_old, conform_read, exact_as_double, example, unify

LINEAGE = ("_source_file", "_ingested_at", "_batch_id")
# zstd level 1 is within 1% of level 3's size here and faster; 1M-row groups cut per-group
# overhead (measured with bench/ingest.py) and suit DuckDB and Spark readers alike.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 1, "row_group_size": 1_000_000}


class SinkFailed(Exception):
    """Streaming a large file failed part-way (a value its inferred types cannot hold)."""


@dataclass
class Batch:
    """What one commit of a table will hold."""

    reads: list[tuple[LandingFile, Read]]
    table_schema: dict[str, Any]  # the table's columns now ({} for a new table)
    target: dict[str, Any]  # its columns after the commit
    changes: list[SchemaChange]

    @property
    def widened(self) -> bool:
        """Whether a column's type changes, so the table's earlier rows are rewritten."""
        return any(self.target[c] != t for c, t in self.table_schema.items())


def lineage_types() -> dict[str, Any]:
    import polars as pl

    return {"_source_file": pl.String, "_ingested_at": pl.Datetime("us", "UTC"), "_batch_id": pl.String}


def aligned(read: Read, canon: dict[str, str]) -> Read:
    """Columns named as `canon` (lower-cased name -> the table's name) does, adding this file's new
    ones: DuckDB ignores case, so `Name` and `name` in one table would make it unreadable. A
    column of the file named like a lineage column gets a suffix and keeps its values."""
    read = read.renamed({n: f"{n}_1" for n in read.columns if n.lower() in LINEAGE})
    renames = {n: canon[n.lower()] for n in read.columns if canon.get(n.lower(), n) != n}
    for n in read.columns:
        canon.setdefault(n.lower(), n)
    return read.renamed(renames)


def plan_batch(dt: Any, table_schema: dict[str, Any], items: list[tuple[LandingFile, Read]], decimal: str) -> Batch:
    """The table's columns after these files, and the changes to announce."""
    import polars as pl

    canon = {c.lower(): c for c in table_schema}  # `Name` in a later file is the table's `name`
    reads = [(f, aligned(r, canon)) for f, r in items]
    lineage = lineage_types()
    target, changes = unify(table_schema, [(f.rel, {**r.dtypes, **lineage}) for f, r in reads])
    # Integers beside decimals become DOUBLE only while every integer is exact in one.
    for name, dtype in target.items():
        if dtype != pl.Float64:
            continue
        ints = [r.frame() for _, r in reads if name in r.dtypes and r.dtypes[name].is_integer()]
        if dt is not None and name in table_schema and table_schema[name].is_integer():
            ints.append(pl.scan_parquet(dt.file_uris(), missing_columns="insert"))
        if not all(exact_as_double(frame, name) for frame in ints):
            target[name] = pl.String
            changes = [replace(c, new_type="VARCHAR") if c.column == name else c for c in changes]
    out = []
    for change in changes:
        if change.change == "widened" and change.old_type is not None:
            cause = next(r for f, r in reads if f.rel == change.file)
            change = replace(change, example=example(cause, change.column, table_schema[change.column], decimal))
        out.append(change)
    return Batch(reads, table_schema, target, out)


def stage(batch: Batch, dt: Any, out: Path, decimal: str, batch_id: str, at: datetime) -> dict[str, int]:
    """Write the commit's rows to `out`; return the rows each file gave. A widening rewrites the
    table's earlier rows in the new types in the same file. Raises SinkFailed when a streamed
    file holds a value its types (from its first rows) cannot hold."""
    import polars as pl

    def rows(f: LandingFile, r: Read) -> Any:
        return conform_read(r, batch.target, decimal).with_columns(
            pl.lit(f.rel, dtype=pl.String).alias("_source_file"),
            pl.lit(at, dtype=pl.Datetime("us", "UTC")).alias("_ingested_at"),
            pl.lit(batch_id, dtype=pl.String).alias("_batch_id"),
        )

    frames = [(f, rows(f, r)) for f, r in batch.reads]
    lazy = batch.reads[0][1].lazy
    if batch.widened:
        old = pl.scan_parquet(dt.file_uris(), missing_columns="insert")
        parts = [conform_old(old, batch.table_schema, batch.target, decimal)] + [fr.lazy() for _, fr in frames]
        pl.concat(parts, how="vertical").sink_parquet(out, **PARQUET_OPTIONS)
    elif lazy:
        try:
            frames[0][1].sink_parquet(out, **PARQUET_OPTIONS)
        except Exception as exc:
            raise SinkFailed(first_line(exc)) from exc
    else:
        pl.concat([fr for _, fr in frames], how="vertical").write_parquet(out, **PARQUET_OPTIONS)
    if lazy:
        import pyarrow.parquet as pq

        return {frames[0][0].rel: pq.read_metadata(out).num_rows}
    return {f.rel: fr.height for f, fr in frames}
