"""Numbers written as text land as what their file meant: locale formats, widening, leading zeros.

The property tests drop random files of one table mixing number formats (decimal comma or point,
thousands separators or none, any number of decimals, some values that are not numbers) and check
every value read back from bronze: a number equals what its file meant, and a text value is the
exact text its file had, or (an earlier row of a column widened to text) the number its file meant
written in the table's number format.
"""

from __future__ import annotations

import re
import tempfile
from decimal import Decimal
from pathlib import Path

from conftest import query, run_rat, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rat_tui.engine import Engine
from rat_tui.engine.workspace import init_workspace

# The case: monthly `;` exports with decimal commas.
JAN = "Date;Customer;Amount (EUR)\n01.01.2024;A;999,16\n02.01.2024;B;12,50\n"
MAR = "Date;Customer;Amount (EUR)\n01.03.2024;C;1.234,50\n02.03.2024;D;1303,24\n"


def amounts(e: Engine, table: str = "inv") -> list[tuple]:
    return query(e, f'select "Customer", "Amount (EUR)" from bronze.{table} order by "Customer"')


def test_decimal_commas_with_thousands_separators_stay_numbers(ws: Path, engine) -> None:
    write(ws / "landing" / "inv" / "2024-01.csv", JAN)
    engine().run()
    write(ws / "landing" / "inv" / "2024-03.csv", MAR)
    report = engine().run()
    assert report.status == "ok"
    e = engine()
    assert amounts(e) == [("A", 999.16), ("B", 12.5), ("C", 1234.5), ("D", 1303.24)]
    assert query(e, 'select typeof("Amount (EUR)") from bronze.inv limit 1') == [("DOUBLE",)]


def test_a_table_keeps_its_decimal_mark_for_ambiguous_files(ws: Path, engine) -> None:
    # January settles the decimal comma; a later file holding only `1.234` means one thousand.
    write(ws / "landing" / "inv" / "2024-01.csv", JAN)
    engine().run()
    write(ws / "landing" / "inv" / "2024-05.csv", "Date;Customer;Amount (EUR)\n01.05.2024;E;1.234\n")
    engine().run()
    assert ("E", 1234.0) in amounts(engine())


def test_one_batch_reads_every_file_in_the_mark_one_of_them_shows(ws: Path, engine) -> None:
    # A `,`-separated file of `1,234` alone would be read with a decimal point; its batch-mate shows
    # that this table writes decimal commas, so both are read that way (a consistent table).
    write(ws / "landing" / "t" / "a.csv", 'id,amount\n1,"1,5"\n')
    write(ws / "landing" / "t" / "b.csv", 'id,amount\n2,"1.234"\n')
    engine().run()
    assert query(engine(), "select id, amount from bronze.t order by id") == [(1, 1.5), (2, 1234.0)]


def test_widening_writes_earlier_rows_in_the_tables_format_and_keeps_new_text(ws: Path, engine) -> None:
    write(ws / "landing" / "inv" / "2024-01.csv", JAN)
    engine().run()
    write(
        ws / "landing" / "inv" / "2024-04.csv", "Date;Customer;Amount (EUR)\n01.04.2024;E;n/a\n02.04.2024;F;1.000,00\n"
    )
    engine().run()
    # Every row now reads the same way: a European cast in silver is right for all of them.
    assert amounts(engine()) == [("A", "999,16"), ("B", "12,5"), ("E", "n/a"), ("F", "1.000,00")]
    euro = query(
        engine(),
        "select \"Customer\", try_cast(replace(replace(\"Amount (EUR)\", '.', ''), ',', '.') as decimal(12, 2)) "
        "from bronze.inv order by 1",
    )
    assert [(c, float(v) if v is not None else None) for c, v in euro] == [
        ("A", 999.16),
        ("B", 12.5),
        ("E", None),
        ("F", 1000.0),
    ]


def test_a_text_column_keeps_each_files_text(ws: Path, engine) -> None:
    write(ws / "landing" / "t" / "1.csv", "id,code\n1,n/a\n")
    engine().run()
    write(ws / "landing" / "t" / "2.csv", "id,code\n2,12.50\n3,007\n")
    engine().run()
    assert query(engine(), "select id, code from bronze.t order by id") == [(1, "n/a"), (2, "12.50"), (3, "007")]


def test_leading_zeros_and_plus_signs_stay_text(ws: Path, engine) -> None:
    write(ws / "landing" / "c.csv", "zip,phone,n\n01234,+4930123,7\n10115,+331234,8\n")
    engine().run()
    assert query(engine(), "select zip, phone, n from bronze.c order by n") == [
        ("01234", "+4930123", 7),
        ("10115", "+331234", 8),
    ]


def test_a_configured_decimal_mark_wins(ws: Path, engine) -> None:
    (ws / "rat.toml").write_text(
        (ws / "rat.toml").read_text() + '\n[landing.t]\ndecimal = ","\nthousands = "."\n', encoding="utf-8"
    )
    write(ws / "landing" / "t" / "a.csv", "id;amount\n1;1.234\n2;2.500\n")
    engine().run()
    assert query(engine(), "select amount from bronze.t order by id") == [(1234,), (2500,)]


def test_integers_too_large_for_a_double_widen_to_text(ws: Path, engine) -> None:
    write(ws / "landing" / "t" / "a.csv", "id,v\n1,9007199254740993\n")
    engine().run()
    write(ws / "landing" / "t" / "b.csv", "id,v\n2,1.5\n")
    engine().run()
    assert query(engine(), "select id, v from bronze.t order by id") == [(1, "9007199254740993"), (2, "1.5")]


# The property.

LOCALES = {",": (";", "."), ".": (",", ",")}  # decimal mark -> (the separator of such exports, thousands)


def _written(value: Decimal, decimal: str, grouped: bool) -> str:
    sign = "-" if value < 0 else ""
    whole, _, frac = f"{abs(value):f}".partition(".")
    if grouped:
        group = LOCALES[decimal][1]
        whole = f"{int(whole):,}".replace(",", group)
    return sign + whole + (decimal + frac if frac else "")


def _meant(text: str, decimal: str) -> Decimal:
    group = "." if decimal == "," else ","
    return Decimal(re.sub(r"[ '\u00a0\u202f]", "", text).replace(group, "").replace(decimal, "."))


@st.composite
def files(draw) -> list[tuple[str, list[tuple[int, str]]]]:
    """1-4 files of one table: (decimal mark, [(id, amount text)]); each file shows its decimal mark
    (a value with two decimals) so that what it means is known."""
    out = []
    next_id = 1
    for _ in range(draw(st.integers(1, 4))):
        decimal = draw(st.sampled_from(sorted(LOCALES)))
        rows = []
        for i in range(draw(st.integers(1, 6))):
            if i and draw(st.integers(0, 9)) == 0:
                text = draw(st.sampled_from(["n/a", "-", "12 EUR"]))
            else:
                places = 2 if i == 0 else draw(st.integers(0, 3))
                value = draw(st.decimals(min_value=-9_999_999, max_value=9_999_999, places=places, allow_nan=False))
                text = _written(value, decimal, grouped=draw(st.booleans()))
            rows.append((next_id, text))
            next_id += 1
        out.append((decimal, rows))
    return out


def _check_readback(root: Path, dropped: list[tuple[str, list[tuple[int, str]]]]) -> None:
    e = Engine.open(root)
    try:
        decimal = (e.state.number_format("bronze.t") or (".", ""))[0]
        rows = dict(query(e, "select id, amount from bronze.t"))
    finally:
        e.close()
    for file_decimal, file_rows in dropped:
        for i, text in file_rows:
            got = rows[i]
            meant = _meant(text, file_decimal) if re.search(r"\d", text) and " " not in text else None
            if isinstance(got, str):
                ok = got == text or (
                    meant is not None and re.fullmatch(r"-?[\d.,]+", got) and _meant(got, decimal) == meant
                )
                assert ok, f"row {i}: the file said {text!r}, bronze says {got!r} (table decimal {decimal!r})"
            else:
                assert meant is not None, f"row {i}: {text!r} is not a number but bronze holds {got!r}"
                assert abs(Decimal(str(got)) - meant) <= Decimal("1e-6") * max(1, abs(meant)), (i, text, got)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_property_every_value_reads_back_as_its_file_meant(dropped) -> None:
    with tempfile.TemporaryDirectory(prefix="rat-numbers-") as tmp:
        root = Path(tmp) / "ws"
        init_workspace(root)
        for n, (decimal, rows) in enumerate(dropped):
            sep = LOCALES[decimal][0]
            body = "".join(f'{i}{sep}"{text}"\n' for i, text in rows)
            write(root / "landing" / "t" / f"{n}.csv", f"id{sep}amount\n{body}")
            e = Engine.open(root)  # one file per run: the table's schema moves under each
            try:
                e.run()
            finally:
                e.close()
        _check_readback(root, dropped)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(LOCALES)), st.lists(st.integers(1000, 999_999), min_size=1, max_size=4)),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from(sorted(LOCALES)),
)
def test_property_ambiguous_files_follow_their_table(dropped, table_decimal) -> None:
    """Files holding only `1.234`-like values (thousands or decimals?) are read in the table's mark,
    once one file has shown it: the same text never means two numbers in one table."""
    with tempfile.TemporaryDirectory(prefix="rat-numbers-") as tmp:
        root = Path(tmp) / "ws"
        init_workspace(root)
        sep = LOCALES[table_decimal][0]
        write(
            root / "landing" / "t" / "0.csv",
            f'id{sep}amount\n0{sep}"{_written(Decimal("12.25"), table_decimal, False)}"\n',
        )
        e = Engine.open(root)
        try:
            e.run()
        finally:
            e.close()
        next_id = 1
        expected: dict[int, Decimal] = {0: Decimal("12.25")}
        for n, (decimal, values) in enumerate(dropped, 1):
            file_sep = LOCALES[decimal][0]
            rows = []
            for v in values:
                text = _written(Decimal(v), table_decimal, grouped=True)  # e.g. 1.234 / 1,234
                rows.append(f'{next_id}{file_sep}"{text}"')
                expected[next_id] = _meant(text, table_decimal)
                next_id += 1
            write(root / "landing" / "t" / f"{n}.csv", f"id{file_sep}amount\n" + "\n".join(rows) + "\n")
            e = Engine.open(root)
            try:
                e.run()
            finally:
                e.close()
        e = Engine.open(root)
        try:
            got = dict(query(e, "select id, amount from bronze.t"))
        finally:
            e.close()
        assert {i: Decimal(str(v)) for i, v in got.items()} == expected


def test_rat_run_says_how_it_guessed(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    write(root / "landing" / "t.csv", "id;amount\n1;1.234\n")
    done = run_rat("run", "-w", str(root))
    assert "numbers read with a decimal comma (guessed from the ';' separator" in done.stderr


def test_streamed_files_are_typed_the_same_way(ws: Path, engine, monkeypatch) -> None:
    # Every file takes the large-file path (streamed into a commit of its own, typed from its
    # first rows); a value past those rows that does not fit makes it typed from all its rows.
    from rat_tui.engine.ingest import csv_reader, reader

    monkeypatch.setattr(reader, "STREAM_BYTES", 1)
    monkeypatch.setattr(csv_reader, "SAMPLE_ROWS", 2)
    write(ws / "landing" / "inv" / "2024-01.csv", JAN)
    write(ws / "landing" / "inv" / "2024-03.csv", MAR)
    report = engine().run()
    assert report.status == "ok", report.quarantined
    assert amounts(engine()) == [("A", 999.16), ("B", 12.5), ("C", 1234.5), ("D", 1303.24)]
    late = "id;amount\n1;1,5\n2;2,5\n3;12.5\n4;007\n"  # `12.5` is no decimal-comma number: the column is text
    write(ws / "landing" / "late.csv", late)
    report = engine().run()
    assert report.status == "ok", report.quarantined
    assert query(engine(), "select id, amount from bronze.late order by id") == [
        (1, "1,5"),
        (2, "2,5"),
        (3, "12.5"),
        (4, "007"),
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.from_regex(r"\A-?[0-9]{1,7}([.,][0-9]{1,4})?\Z"),
            st.from_regex(r"\A[0-9]{1,3}([., '][0-9]{3}){1,2}([.,][0-9]{1,3})?\Z"),
            st.sampled_from(["007", "+5", "NaN", "inf", "true", "FALSE", "1e3", " 12 ", "n/a", "", "1.", ".5"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_small_and_large_frames_are_profiled_alike(values) -> None:
    """Small files are profiled in Python, large ones in polars: the two must never disagree."""
    import polars as pl

    from rat_tui.engine.ingest import numbers

    frame = pl.DataFrame({"c": values}, schema={"c": pl.String})
    small = numbers._profile_small(frame, ["c"], None)
    large = numbers.profile(frame.lazy(), ["c"], None)  # a LazyFrame always takes polars
    assert small == large
