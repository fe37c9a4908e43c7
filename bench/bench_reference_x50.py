"""Benchmark (not a test): the reference implementation's fixture shape, replicated 50 times.

    python bench/bench_reference_x50.py [--rows 10000] [--copies 50] [--weighted 0.62]

Issue 14 compares this pipeline with the reference implementation on the reference's
10,000-row integration fixture replicated 50 times (500,000 responses, with weights). That
fixture is not ours to ship, so this script builds one of the same shape:

1. one synthetic Qualtrics export of ``--rows`` responses (``generate_panel``, one wave, all
   timestamps in the study's zone; the responses of the generated days, de-duplicated by
   ResponseId, first ``--rows``);
2. ``--copies`` replicas of it, each its own export file with the same three header rows and
   the same answers, but fresh ``token`` and ``ResponseId`` values (``…_x07``);
3. a weights file (``*_finish_full_survey_weights.csv``) with a weight for a random
   ``--weighted`` share of the tokens (the reference published 309,600 of 500,000 rows).

Then one ``python -m pipeline run`` over it (first run, everything new) is timed in a child
process. Prints rows/s, seconds, the peak RSS of the whole process tree, the ratio to the
floor measured in the same run (``bench/measure.py``), and whether any column was lost: a
question column with answers in the input must have values in the published cumulative
file (the reference lost ``Q40`` at this scale by guessing types from its first rows).

Target (2-core machine, issue 14): <= 8.4 s and <= 1.2 GB for the process tree; no column
lost.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from calibrate import machine_line  # bench/, the script folder, is on sys.path
from measure import (
    floor_seconds,
    published_rows,
    report,
    run_pipeline,
    study_config,
    work_folder,
)

START = date(2021, 6, 1)


def _records(data: bytes) -> tuple[list[list[str]], pa.Table]:
    """An export's three header records and its data rows (strings, empty = null)."""
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [next(reader) for _ in range(3)]
    body = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(skip_rows_after_names=2),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in header[0]}, strings_can_be_null=True
        ),
    )
    return header, body


def build_fixture(work: Path, rows: int, copies: int, weighted: float) -> list[Path]:
    """The replicated exports and the weights file under ``work``; returns the exports."""
    from pipeline.panel.synth import generate_panel

    seed_dir = work / "seed"
    generated = generate_panel(seed_dir, START, 2, rows * 2, seed=7, utc_export=None)
    layouts: dict[tuple[str, ...], tuple[list[list[str]], list[pa.Table]]] = {}
    for path in sorted(generated):
        h, body = _records(path.read_bytes())
        layouts.setdefault(tuple(h[0]), (h, []))[1].append(body)
    # one layout (wave), as the reference's fixture: the one with the most responses
    header, parts = max(layouts.values(), key=lambda hp: sum(b.num_rows for b in hp[1]))
    table = pa.concat_tables(parts)
    ids = table.column("ResponseId").to_numpy(zero_copy_only=False)
    _, first = np.unique(ids, return_index=True)
    if len(first) < rows:
        raise SystemExit(f"generated only {len(first)} responses of one layout, need {rows}")
    table = table.take(pa.array(np.sort(first)[:rows]))
    shutil.rmtree(seed_dir)

    head = io.StringIO()
    csv.writer(head, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(header)
    head_bytes = head.getvalue().encode("utf-8")
    drop = work / "drop"
    drop.mkdir()
    exports, tokens = [], []
    token_at = table.column_names.index("token")
    rid_at = table.column_names.index("ResponseId")
    for k in range(copies):
        suffix = f"_x{k:02d}"
        tok = pc.binary_join_element_wise(table.column("token"), suffix, "")
        rid = pc.binary_join_element_wise(table.column("ResponseId"), suffix, "")
        copy = table.set_column(token_at, "token", tok).set_column(rid_at, "ResponseId", rid)
        body = io.BytesIO()
        options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
        pacsv.write_csv(copy, body, options)
        path = drop / f"export_{START:%Y_%m_%d}_{k + 1:02d}.csv"
        path.write_bytes(head_bytes + body.getvalue())
        exports.append(path)
        tokens.append(tok)
    cids = (
        pc.unique(pa.chunked_array(tokens).combine_chunks())
        .drop_null()
        .to_numpy(zero_copy_only=False)
    )
    rng = np.random.default_rng(11)
    chosen = cids[rng.random(len(cids)) < weighted]
    weights = work / "weights"
    weights.mkdir()
    lines = [
        "cid,weight",
        *(f"{c},{w:.6f}" for c, w in zip(chosen, rng.uniform(0.2, 5, len(chosen)), strict=True)),
    ]
    (weights / f"{START:%Y-%m-%d}_finish_full_survey_weights.csv").write_text(
        "\n".join(lines) + "\n"
    )
    return exports


def lost_columns(exports: list[Path], publish: Path) -> list[str]:
    """Question columns with answers in the input but none in the published cumulative file."""
    answered: set[str] = set()
    for path in exports[:1]:  # the replicas share their answers
        _, body = _records(path.read_bytes())
        answered |= {c for c in body.column_names if body.column(c).null_count < body.num_rows}
    cumulative = next(publish.glob("cumulative/cvid_responses_*_-_*.csv.gz"))
    data = gzip.decompress(cumulative.read_bytes())
    names = next(csv.reader(io.StringIO(data[: data.index(b"\n")].decode())))
    out = pacsv.read_csv(
        io.BytesIO(data),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, null_values=["NA"],
            strings_can_be_null=True,
        ),
    )  # fmt: skip
    return sorted(
        c for c in answered & set(out.column_names) if out.column(c).null_count == out.num_rows
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--weighted", type=float, default=0.62)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    print(machine_line(), flush=True)
    with work_folder("bench-x50-", args.keep) as work:
        exports = build_fixture(work, args.rows, args.copies, args.weighted)
        n = args.rows * args.copies
        print(f"built {len(exports)} exports of {args.rows:,} responses and a weights file")
        os.sync()  # the run should not wait for the built drop's writeback
        config = study_config(work, weights=str(work / "weights"))
        as_of = f"{date.fromordinal(START.toordinal() + 7).isoformat()}T12:00:00Z"  # all recorded
        measured = run_pipeline(config, as_of)
        published = published_rows(work / "publish")
        floor = floor_seconds(exports, published)
        print(report(f"first run ({published:,} published)", n, measured, floor))
        lost = lost_columns(exports, work / "publish")
        print(f"columns lost: {', '.join(lost) if lost else 'none'}")
        if lost:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
