"""Running a model into staged Parquet files: its SQL (or a Python model's frame) through the build's
query session, cast to types Delta holds, written inside the model's table folder where readers do
not see it until it is published (build.py). The base of the Builder."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rat_tui.engine import lake
from rat_tui.engine.delta_types import delta_dtype, delta_safe_type
from rat_tui.engine.events import EventBus
from rat_tui.engine.models import Model
from rat_tui.engine.planning import Planner
from rat_tui.engine.query import KeyFilter, Session, quote_ident, quote_str, strip_sql
from rat_tui.engine.state import State
from rat_tui.engine.workspace import Workspace

if TYPE_CHECKING:
    import polars as pl

_COPY_OPTIONS = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880"
_ROW_GROUPS_PER_FILE = 8  # about a million rows per data file


class ModelContext:
    """What a Python model's `model(ctx)` receives: `ctx.table("silver.orders")` as a polars LazyFrame."""

    def __init__(self, session: Callable[[], Session], model: Model, incremental: bool) -> None:
        self._session = session
        self._model = model
        self.is_incremental = incremental
        self.name = model.name

    def table(self, name: str) -> pl.LazyFrame:
        """The table's rows as this build sees them (only the new rows of the incremental input)."""
        import polars as pl

        name = name.strip().lower()
        if name not in self._model.depends_on:
            raise ValueError(f"{name} is not a table this model reads")
        session = self._session()
        if name not in session.sources:
            raise ValueError(f"{name} is a view, not a table; a Python model reads tables")
        source = session.sources[name]
        schema = dict(pl.DataFrame(source.schema.empty_table()).schema)
        if not source.files:
            return pl.DataFrame(schema=schema).lazy()
        frame = pl.scan_parquet(source.files, schema=schema, missing_columns="insert")
        if source.keys is not None:
            keys = pl.from_arrow(session.con.table(source.keys.relation).to_arrow_table())
            frame = frame.join(keys.lazy(), on=list(source.keys.columns), how="semi")  # type: ignore[union-attr]
        return frame


class Stager:
    """The build's query session and the staging of a model's rows."""

    def __init__(self, ws: Workspace, state: State, bus: EventBus, open_session: Callable[[], Session]) -> None:
        self.ws = ws
        self.state = state
        self.bus = bus
        self._open_session = open_session
        self._session: Session | None = None
        self._scratch: list[Path] = []  # Python models' results, deleted after each build
        self.planner = Planner(ws, state)

    @property
    def session(self) -> Session:
        """Opened on the first build, so a run with nothing stale never starts DuckDB's views."""
        if self._session is None:
            self._session = self._open_session()
        return self._session

    def interrupt(self) -> None:
        session = self._session
        if session is not None:
            session.con.interrupt()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # Running a model's SQL or Python into a Parquet file.

    @contextmanager
    def _input(self, name: str, files: list[str], keys: KeyFilter | None = None) -> Iterator[None]:
        """Let `name` read only `files` (and rows matching `keys`) while a model runs."""
        session = self.session
        schema = session.sources[name].schema
        session.point(name, files, schema, keys)
        try:
            yield
        finally:
            session.refresh(name)

    def _model_sql(self, model: Model, incremental: bool) -> str:
        """A SELECT of the model's rows: its SQL, or a Python model's result written to a scratch file."""
        if not model.is_python:
            return strip_sql(model.sql)
        raw = self.ws.tmp / f"py-{uuid.uuid4().hex[:12]}.parquet"
        self._scratch.append(raw)
        self._run_python(model, raw, incremental)
        return f"SELECT * FROM read_parquet({quote_str(str(raw))})"

    def _select(self, body: str, where: str | None) -> str:
        """The rows of `body` (matching `where`) with the columns cast to types Delta can hold."""
        # Describe first: it checks the SQL and lists the columns to cast into Delta-safe types.
        described = self.session.con.execute(f"DESCRIBE SELECT * FROM (\n{body})").fetchall()
        select = ", ".join(
            f"CAST({quote_ident(n)} AS {fix}) AS {quote_ident(n)}" if (fix := delta_safe_type(t)) else quote_ident(n)
            for n, t, *_ in described
        )
        filtered = f" WHERE {where}" if where else ""
        return f"SELECT {select} FROM (\n{body}) AS _m{filtered}"

    def _stage(self, model: Model, run_id: str, body: str, where: str | None = None) -> list[Path]:
        """COPY the rows of `body` into new data files in the model's table folder (invisible to
        readers until published). Files of about a million rows each: a later merge or partition
        replacement rewrites only the files it touches."""
        path = self.ws.table_path(model.name)
        folder = path / f"_staging-{uuid.uuid4().hex[:12]}"
        path.mkdir(parents=True, exist_ok=True)
        staged: list[Path] = []
        try:
            self.session.con.execute(
                f"COPY ({self._select(body, where)}) TO {quote_str(str(folder))} "
                f"({_COPY_OPTIONS}, ROW_GROUPS_PER_FILE {_ROW_GROUPS_PER_FILE})"
            )
            for part in sorted(folder.glob("*.parquet")):
                target = lake.stage_path(path, run_id)
                part.replace(target)
                staged.append(target)
        except BaseException:
            for f in staged:
                f.unlink(missing_ok=True)
            raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return staged

    def _run_python(self, model: Model, out: Path, incremental: bool) -> None:
        import polars as pl
        import pyarrow as pa

        module_name = f"rat_model_{model.layer}_{model.table}_{uuid.uuid4().hex[:6]}"
        spec = importlib.util.spec_from_file_location(module_name, model.path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
            result = module.model(ModelContext(lambda: self.session, model, incremental))
        finally:
            sys.modules.pop(module_name, None)
        if isinstance(result, pl.DataFrame):
            result = result.lazy()
        elif isinstance(result, (pa.Table, pa.RecordBatch)):
            result = pl.from_arrow(result).lazy()  # type: ignore[union-attr]
        if not isinstance(result, pl.LazyFrame):
            raise TypeError(
                f"model() returned {type(result).__name__}; return a polars LazyFrame or DataFrame, or an Arrow table"
            )
        schema = result.collect_schema()
        casts = [pl.col(n).cast(delta_dtype(t)) for n, t in schema.items() if delta_dtype(t) != t]
        if casts:
            result = result.with_columns(casts)
        result.sink_parquet(out, compression="zstd")
