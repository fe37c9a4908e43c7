"""The typed Parquet dataset as researchers read it (SPEC §3.6 "Typed copies"): DuckDB,
pyarrow datasets and polars read ``parquet/`` with no options, with the codebook's types
and the same rows and values as the CSVs; a day is rewritten only when it changes."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from pipeline.cli import main
from pipeline.panel.latest import latest_text
from tests.study import Study


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Study:
    """Four nights of synthetic survey exports (the survey's own value types), default
    settings (gzipped daily files)."""
    root = tmp_path_factory.mktemp("parquet")
    incoming = root / "incoming"
    assert main(["synth", "--kind", "panel", "--out", str(incoming), "--start", "2021-06-01",
                 "--days", "4", "--per-day", "300", "--seed", "3"]) == 0  # fmt: skip
    study = Study(root / "study", options={"gzip_daily": True})
    for night in ("02", "03", "04", "05"):
        for f in incoming.glob(f"export_2021_06_{night}_*"):
            shutil.copy(f, study.drop / f.name)
        assert study.run(f"2021-06-{night}T12:00:00Z") == 0
    return study


def _codebook(study: Study) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(study.text("docs/codebook.csv")))
    return {r["variable"]: r["type"].split(";")[0] for r in rows}


def _csv_value(text: str | None, kind: str):
    """A CSV cell as the codebook's type says to read it."""
    if text is None:
        return None
    if kind == "integer":
        return int(float(text))
    if kind == "number":
        return float(text)
    return text


def test_pyarrow_dataset_reads_the_csv_rows_with_the_codebook_types(published):
    types = _codebook(published)
    table = ds.dataset(published.pub / "parquet", partitioning="hive").to_table()
    for col, kind in types.items():
        typ = table.schema.field(col).type
        if kind == "integer":
            assert typ == pa.int64(), col
        elif kind == "number":
            assert typ == pa.float64(), col
        elif kind.startswith("date-time"):
            assert typ == pa.timestamp("ms", tz="America/Los_Angeles"), col
        else:
            assert typ == pa.string(), col
    assert types["A3"] == "ZIP code (text)" and types["wave"] == "integer"
    latest = latest_text(str(published.pub))
    assert table.num_rows == len(latest) > 1000
    # the same rows, value for value (times compared as the CSV writes them)
    got = table.drop_columns(["day"]).to_pylist()
    for row in got:
        for col in ("StartDatetime", "EndDatetime"):
            if row[col] is not None:
                row[col] = row[col].strftime("%Y-%m-%d %H:%M:%S")
    want = [
        {c: _csv_value(None if pd_isna(v) else v, types[c] if not types[c].startswith("date")
                       else "text") for c, v in rec.items()}
        for rec in latest.to_dict("records")
    ]  # fmt: skip
    key = sorted(types)
    assert sorted(map(lambda r: repr([r[c] for c in key]), got)) == sorted(
        map(lambda r: repr([r[c] for c in key]), want)
    )
    zips = [r["A3"] for r in got if r["A3"] is not None]
    assert any(z.startswith("0") for z in zips)  # leading zeros kept


def pd_isna(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def test_duckdb_reads_the_dataset_with_no_options(published):
    con = duckdb.connect()
    glob = str(published.pub / "parquet" / "**" / "*.parquet")
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0]
    assert rows == len(latest_text(str(published.pub)))
    described = dict(
        con.execute(
            f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{glob}'))"
        ).fetchall()  # fmt: skip
    )
    assert described["A3"] == "VARCHAR" and described["B2"] == "VARCHAR"
    assert described["wave"] == "BIGINT" and described["weight"] == "DOUBLE"
    assert described["StartDatetime"] == "TIMESTAMP WITH TIME ZONE"
    assert described["day"] == "DATE"  # the Hive folder, as DuckDB reads it
    by_day = con.execute(
        f"SELECT day, count(*) FROM read_parquet('{glob}') GROUP BY day ORDER BY day"
    ).fetchall()
    assert [str(d) for d, _n in by_day] == ["2021-06-01", "2021-06-02", "2021-06-03", "2021-06-04"]


def test_polars_scans_the_dataset_with_no_options(published):
    frame = pl.scan_parquet(published.pub / "parquet").collect()
    assert frame.height == len(latest_text(str(published.pub)))
    assert frame.schema["A3"] == pl.String and frame.schema["wave"] == pl.Int64
    assert frame.schema["weight"] == pl.Float64


def test_a_day_is_rewritten_only_when_its_content_changes(published, tmp_path):
    study = published
    before = sorted(p.relative_to(study.pub) for p in (study.pub / "parquet").rglob("*.parquet"))
    assert len(before) == 4  # one file per day
    # a night with no new input: every copy stays as it is (06-05 is a new, empty day)
    assert study.run("2021-06-06T12:00:00Z") == 0
    after = sorted(p.relative_to(study.pub) for p in (study.pub / "parquet").rglob("*.parquet"))
    assert [p for p in after if "day=2021-06-05" not in str(p)] == before
    assert _sums_check(study.pub) == 0


def _sums_check(root: Path) -> int:
    import subprocess

    return subprocess.run(["sha256sum", "-c", "--quiet", "parquet.SHA256SUMS"], cwd=root).returncode
