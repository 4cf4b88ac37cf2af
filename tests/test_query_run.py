"""The engine's QueryRun without the workbench: first rows, the rest counted, cancel from any thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rat_tui.engine import Engine
from rat_tui.engine.results import CANCELLED, FirstRows, QueryRun


def collect(
    run: QueryRun, engine: Engine, on_first: Callable[[FirstRows], Any] | None = None
) -> tuple[list[FirstRows], Any]:
    firsts: list[FirstRows] = []

    def first(rows: FirstRows) -> None:
        firsts.append(rows)
        if on_first is not None:
            on_first(rows)

    return firsts, run.run(engine.query_session, first)


def test_a_small_result_is_whole_at_once(engine: Callable[[], Engine]) -> None:
    run = QueryRun("select range as i from range(10)", limit=100)
    firsts, outcome = collect(run, engine())
    assert len(firsts) == 1 and firsts[0].total == 10 and firsts[0].table.num_rows == 10
    assert firsts[0].table.column("i").to_pylist() == list(range(10))
    assert (outcome.total, outcome.shown, outcome.error) == (10, 10, None)
    assert run.finished and not run.running


def test_past_the_limit_the_first_rows_come_first_and_the_rest_is_counted(engine: Callable[[], Engine]) -> None:
    run = QueryRun("select range as i from range(250000)", limit=1000)
    firsts, outcome = collect(run, engine())
    assert firsts[0].total is None and firsts[0].table.num_rows == 1000  # counting goes on
    assert (outcome.total, outcome.shown, outcome.rows) == (250_000, 1000, 250_000)
    exactly = QueryRun("select range as i from range(1000)", limit=1000)  # exactly the limit
    _, outcome = collect(exactly, engine())
    assert outcome.total == 1000


def test_cancelled_before_it_starts_it_opens_nothing(engine: Callable[[], Engine]) -> None:
    run = QueryRun("select 1", limit=10)
    run.cancel()
    opened: list[int] = []
    e = engine()

    def open_session() -> Any:
        opened.append(1)
        return e.query_session()

    outcome = run.run(open_session, lambda rows: None)
    assert outcome.error == CANCELLED and not opened and run.finished


def test_cancel_from_another_thread_interrupts_a_long_query(engine: Callable[[], Engine]) -> None:
    run = QueryRun("select sum(hash(range)) from range(100000000000)", limit=10)
    e = engine()
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(run.run(e.query_session, lambda rows: None)))
    worker.start()
    deadline = time.monotonic() + 20
    while not run.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.running
    time.sleep(0.3)
    started = time.monotonic()
    run.cancel()
    worker.join(10)
    assert not worker.is_alive() and time.monotonic() - started < 5
    assert done[0].error == CANCELLED and not run.running


def test_cancel_while_counting_keeps_the_rows_shown(engine: Callable[[], Engine]) -> None:
    run = QueryRun("select md5(range::varchar) as m from range(300000000)", limit=500)
    firsts, outcome = collect(run, engine(), on_first=lambda rows: run.cancel())
    assert firsts[0].table.num_rows == 500
    assert outcome.error is None and outcome.total is None and outcome.rows == 500


def test_errors_are_one_line_and_nothing_is_raised(engine: Callable[[], Engine]) -> None:
    firsts, outcome = collect(QueryRun("select * from gold.nope", limit=10), engine())
    assert not firsts and outcome.error is not None and "\n" not in outcome.error
    assert "nope" in outcome.error and "rat status" in outcome.error  # the pointer to the table list
    firsts, outcome = collect(QueryRun("select 1/0::int as x, 'a'::int as y", limit=10), engine())
    assert not firsts and outcome.error and "Conversion" in outcome.error
    _, outcome = collect(QueryRun("-- only a comment", limit=10), engine())
    assert outcome.error == "the statement returned no rows"


def test_an_export_cancelled_while_it_writes_stops_and_leaves_no_file(engine: Callable[[], Engine], tmp_path) -> None:
    from rat_tui.engine.errors import QueryError
    from rat_tui.engine.results import ExportRun

    target = tmp_path / "big.csv"
    run = ExportRun("select md5(range::varchar) as m from range(3000000000)", "csv", target)
    e = engine()
    failed: list[BaseException] = []

    def work() -> None:
        try:
            run.run(e.query_session)
        except QueryError as exc:
            failed.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    deadline = time.monotonic() + 20
    while not run.running and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    started = time.monotonic()
    run.cancel()
    worker.join(10)
    # Before the fix the interrupted COPY fell back to running the query again into memory.
    assert not worker.is_alive() and time.monotonic() - started < 5
    assert failed and CANCELLED in str(failed[0]) and not target.exists() and run.finished
    done = ExportRun("select 42 as x", "csv", tmp_path / "small.csv")
    assert done.run(e.query_session) == 1 and (tmp_path / "small.csv").read_text() == "x\n42\n"
