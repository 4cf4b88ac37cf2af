"""Incremental strategies: build a model from its input's new rows alone (append, merge by
`unique_key`, replace the partitions touched), so that the table always equals a full rebuild."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rat_tui.engine import lake
from rat_tui.engine.checks import CheckResult
from rat_tui.engine.models import Model
from rat_tui.engine.planning import Plan
from rat_tui.engine.query import KeyFilter, first_row, quote_ident, quote_str
from rat_tui.engine.staging import Stager


def in_list(column: str, values: list[Any], limit: int = 10_000) -> str | None:
    """`column IN (...)` for a short list of plain values: DuckDB pushes it through a GROUP BY on that
    column down to the scan (and the Parquet statistics), which a semi-join does not get."""
    import datetime as dt

    literals = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            literals.append("true" if v else "false")
        elif isinstance(v, (int, float)):
            literals.append(repr(v))
        elif isinstance(v, str):
            literals.append(quote_str(v))
        elif isinstance(v, dt.datetime) and v.tzinfo is None:
            literals.append(f"TIMESTAMP {quote_str(v.isoformat(sep=' '))}")
        elif isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            literals.append(f"DATE {quote_str(v.isoformat())}")
        else:
            return None
    if len(literals) > limit:
        return None
    parts = [f"{column} IN ({', '.join(literals)})"] if literals else []
    if None in values:
        parts.append(f"{column} IS NULL")
    return "(" + " OR ".join(parts) + ")" if parts else "false"


@dataclass(frozen=True)
class Built:
    """What a model's build published."""

    checks: list[CheckResult]
    rows: int | None = None  # None: a view
    version: int | None = None
    view_sql: str | None = None  # a view's SQL, as defined
    mode: str = "full"  # full | incremental | checks (re-checked, not rebuilt)


class IncrementalBuilder(Stager):
    """The incremental half of the Builder (which publishes what these stage)."""

    def _publish_checked(
        self, model: Model, run_id: str, staged: list[Path], mode: str, removes: list[str], operation: str
    ) -> tuple[int, int, list[CheckResult]]:
        raise NotImplementedError  # the Builder's: audit, then commit

    def _build_incremental(self, model: Model, plan: Plan, run_id: str) -> Built | None:
        """Build from the incremental input's new rows; None when only a full rebuild is right."""
        import pyarrow.parquet as pq

        source = model.incremental_input
        assert source is not None
        dt = lake.open_table(self.ws.table_path(model.name))
        assert dt is not None
        table_schema = lake.arrow_schema(dt)
        staged: list[Path] = []
        try:
            if model.strategy == "partition":
                staged, removes = self._stage_partitions(model, plan, run_id)
            else:
                with self._input(source, plan.new_files):
                    staged = self._stage(model, run_id, self._model_sql(model, incremental=True))
                removes = []
            if not lake.same_columns(pq.read_schema(staged[0]), table_schema):
                for f in staged:
                    f.unlink(missing_ok=True)
                return None  # the output's columns changed: only a full rebuild is right
            if model.strategy == "merge":
                staged, removes = self._merge_into(model, run_id, staged)
            operation = f"build ({model.strategy})"
            rows, version, checks = self._publish_checked(model, run_id, staged, "append", removes, operation)
            return Built(checks, rows, version, mode="incremental")
        except BaseException:
            for f in staged:
                f.unlink(missing_ok=True)
            raise
        finally:
            for name in ("__rat_keys", "__rat_parts"):
                self.session.con.execute(f"DROP TABLE IF EXISTS {name}")

    def _files_holding(self, model: Model, alias: str, condition: str) -> list[str]:
        """The model table's current data files that hold a row matching `condition` (over `alias`)."""
        files = lake.open_table(self.ws.table_path(model.name)).file_uris()  # type: ignore[union-attr]
        listing = ", ".join(quote_str(f) for f in files)
        rows = self.session.con.execute(
            f"SELECT DISTINCT filename FROM read_parquet([{listing}], filename = true, union_by_name = true) AS {alias} "
            f"WHERE {condition}"
        ).fetchall()
        return [r[0] for r in rows]

    def _merge_into(self, model: Model, run_id: str, staged: list[Path]) -> tuple[list[Path], list[str]]:
        """The files of the merged version: the new rows plus the untouched rows of the files that
        hold their keys; and those files, to remove in the same commit."""
        con = self.session.con
        keys = ", ".join(quote_ident(k) for k in model.unique_key)
        new = "read_parquet([" + ", ".join(quote_str(str(f)) for f in staged) + "])"
        dupe = first_row(con.execute(f"SELECT {keys} FROM {new} GROUP BY ALL HAVING count(*) > 1 LIMIT 1"))
        if dupe is not None:
            raise ValueError(
                f"the new rows hold unique_key {dict(zip(model.unique_key, dupe, strict=True))} more than once; "
                "a merge model must give one row per key"
            )
        match = " AND ".join(f"_n.{quote_ident(k)} = _t.{quote_ident(k)}" for k in model.unique_key)
        touched = self._files_holding(model, "_t", f"EXISTS (SELECT 1 FROM {new} AS _n WHERE {match})")
        if not touched:
            return staged, []
        keep = f"NOT EXISTS (SELECT 1 FROM {new} AS _n WHERE {match})"
        return self._rewrite(model, run_id, staged, touched, keep), [
            lake.relative(self.ws.table_path(model.name), f) for f in touched
        ]

    def _rewrite(self, model: Model, run_id: str, staged: list[Path], touched: list[str], keep: str) -> list[Path]:
        """New files holding the rows of `touched` files that satisfy `keep`, plus the staged rows
        (whose own files are then deleted)."""
        old = ", ".join(quote_str(f) for f in touched)
        new = ", ".join(quote_str(str(f)) for f in staged)
        body = (
            f"SELECT * FROM read_parquet([{old}], union_by_name = true) AS _t WHERE {keep} "
            f"UNION ALL BY NAME SELECT * FROM read_parquet([{new}])"
        )
        try:
            return self._stage(model, run_id, body)
        finally:
            for f in staged:
                f.unlink(missing_ok=True)

    def _stage_partitions(self, model: Model, plan: Plan, run_id: str) -> tuple[list[Path], list[str]]:
        """Recompute the touched partitions into staged files; return them and the files they replace."""
        con = self.session.con
        source = model.incremental_input
        part = model.partition_by
        assert source is not None and part is not None
        partitions: set[Any] = set()
        partitions |= self._partitions_of(model, source, plan.new_files, None)
        if model.unique_key:
            # A key seen again may have moved: recompute where its rows were and where they are now.
            cols = ", ".join(quote_ident(k) for k in model.unique_key)
            listing = ", ".join(quote_str(f) for f in plan.new_files)
            con.execute(
                f"CREATE OR REPLACE TABLE __rat_keys AS SELECT DISTINCT {cols} FROM read_parquet([{listing}], union_by_name = true)"
            )
            keys = KeyFilter(tuple(model.unique_key), "__rat_keys")
            before = lake.files_at(self.ws.table_path(source), plan.prior_input_version)  # type: ignore[arg-type]
            schema = self.session.sources[source].schema
            seen_before = self.session.files_sql(before, schema, "__rat_before_empty")
            if before and first_row(con.execute(f"SELECT 1 FROM ({seen_before}) AS _r WHERE {keys.sql('_r')} LIMIT 1")):
                # Only a key seen before can have moved; new keys alone touch only the partitions above.
                partitions |= self._partitions_of(model, source, before, keys)
                partitions |= self._partitions_of(model, source, self.session.sources[source].files, keys)
        import pyarrow as pa

        values = list(partitions)
        con.register(
            "__rat_parts_arrow",
            pa.table({"v": pa.array(values)}) if values else pa.table({"v": pa.array([], pa.null())}),
        )
        con.execute("CREATE OR REPLACE TABLE __rat_parts AS SELECT v FROM __rat_parts_arrow")
        con.unregister("__rat_parts_arrow")
        in_parts = in_list(f"_m.{quote_ident(part)}", values) or (
            f"EXISTS (SELECT 1 FROM __rat_parts AS _p WHERE _p.v IS NOT DISTINCT FROM _m.{quote_ident(part)})"
        )
        staged = self._stage(model, run_id, self._model_sql(model, incremental=False), where=in_parts)
        touched = self._files_holding(model, "_m", in_parts)
        if not touched:
            return staged, []
        keep = f"NOT EXISTS (SELECT 1 FROM __rat_parts AS _p WHERE _p.v IS NOT DISTINCT FROM _t.{quote_ident(part)})"
        return self._rewrite(model, run_id, staged, touched, keep), [
            lake.relative(self.ws.table_path(model.name), f) for f in touched
        ]

    def _partitions_of(self, model: Model, source: str, files: list[str], keys: KeyFilter | None) -> set[Any]:
        """The partition values the model outputs when `source` holds only `files` (matching `keys`)."""
        col = quote_ident(model.partition_by or "")
        with self._input(source, files, keys):
            body = self._model_sql(model, incremental=True)
            rows = self.session.con.execute(f"SELECT DISTINCT {col} FROM ({self._select(body, None)})").fetchall()
        return {r[0] for r in rows}
