"""Stage 7 of a panel run: write the published files, then commit the run's state at once."""

from __future__ import annotations

import io
import tarfile
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from typing import Any

import pandas as pd

from pipeline import gzmembers, outages
from pipeline.clock import day_range
from pipeline.context import RunContext
from pipeline.csvfmt import to_csv_bytes
from pipeline.fetching import FetchResult, InputFile, quarantine_notices, with_outcomes
from pipeline.panel import codebook, names, parquet
from pipeline.panel.output import published_columns
from pipeline.panel.stages.days import DayBuild
from pipeline.panel.stages.eligibility import EligibilityResult
from pipeline.panel.stages.lag import LagResult
from pipeline.panel.stages.ledger import LedgerDelta
from pipeline.panel.stages.normalize import NormalizeResult
from pipeline.publishing import DayFile, Publisher, PublishResult, manifest
from pipeline.staging import read_table
from pipeline.state.run_ledger import RunLedger
from pipeline.state.store import RunChanges


def publish_and_commit(
    ctx: RunContext,
    fetch: FetchResult,
    norm: NormalizeResult,
    elig: EligibilityResult,
    delta: LedgerDelta,
    lag: LagResult,
    build: DayBuild,
    held_days: set[str] | None = None,
) -> PublishResult:
    """Publish daily, cumulative, codebook, CID lists, OUTAGES, SHA256SUMS, run manifest;
    then commit the run's state in one transaction.

    A backfill (``ctx.forced_days``) publishes those days only; the others keep theirs.
    Should the commit fail, the files published are named in the run's journal and the
    next run converges (:mod:`pipeline.recovery`).
    """
    cfg, held_days = ctx.cfg, set(held_days or ())
    res = PublishResult()
    # the state this run read is the state its first step saw (fetch.base_seq): a run
    # committed since, between this run's steps, makes this commit fail (rerun)
    changes = ctx.new_changes(fetch.base_seq)
    cid_listed = ledger_changes(delta, lag)
    changes.ledger_rows = delta.ledger
    changes.cid_listed = {day: list(tokens) for day, tokens in cid_listed.items()}
    changes.weights = read_table(lag.weights) if lag.weights else []
    new_entries: list[dict[str, Any]] = changes.outages  # OUTAGES entries of this run

    def note(kind: str, message: str, days: list[str] | tuple[str, ...] = ()) -> None:
        new_entries.append(
            outages.entry(
                kind, message, days, at=ctx.as_of, timezone=cfg.timezone, run_id=ctx.run_id
            )
        )

    new_entries += quarantine_notices(ctx, norm.quarantined + lag.quarantined)

    day_rows = ctx.store.days()
    versions = daily_names(ctx, day_rows)
    with (
        closing(ctx.open(cfg.publish)) as loc,
        Publisher(ctx, loc, changes, res, versions, recover=True) as pub,  # rolls back on failure
    ):
        new_days: dict[str, dict[str, Any]] = {}
        for day, st in build.stores.items():
            new_days[day] = {**day_rows.get(day, {"day": day}), "store": st.store,
                             "rows": st.rows}  # fmt: skip
        moved = move_old_layout(pub)
        if moved:
            note(
                "NOTICE",
                f"Files moved to subfolders: {moved}. The publish root now holds "
                "only daily files among its CSV names (as the survey's R helper expects); "
                "each subfolder has its own SHA256SUMS (see README, Published files).",
            )
        first = ctx.first_day(delta)
        types = codebook.column_types(
            list(build.questions), list(build.layouts), cfg.rules, cfg.timezone
        )
        members: dict[str, str] = {}
        if first is not None and first <= lag.last_closed:
            for d in day_range(date.fromisoformat(first), date.fromisoformat(lag.last_closed)):
                if ctx.forced_days and d.isoformat() not in ctx.forced_days:
                    sha = day_rows.get(d.isoformat(), {}).get("csv_sha")
                    if sha and day_rows[d.isoformat()].get("published_name"):
                        members[d.isoformat()] = sha
                    continue
                sha = _publish_day(ctx, pub, d, day_rows, new_days, build, held_days, note, res)
                if sha:
                    members[d.isoformat()] = sha
            _publish_cumulative(
                ctx, pub, build, list(members.values()), date.fromisoformat(first), lag
            )
            res.cells_untyped = parquet.publish_days(ctx, pub, members, types)
            names_now = {d: r.get("published_name") for d, r in {**day_rows, **new_days}.items()}
            _publish_rollups(ctx, pub, build, members, names_now, note)
        if res.recompressed_days:
            note(
                "NOTICE",
                f"{len(res.recompressed_days)} day file(s) re-issued as "
                f"{'.csv.gz' if cfg.gzip_daily else '.csv'} (gzip_daily is now "
                f"{str(cfg.gzip_daily).lower()}); their content is unchanged.",
                res.recompressed_days,
            )
        if res.rerendered_days:
            note(
                "CORRECTION",
                f"{len(res.rerendered_days)} day file(s) re-issued: {build.change}. "
                "The values of these days now follow the current rules.",
                res.rerendered_days,
            )
        pub.write(
            names.CODEBOOK,
            codebook.render(
                list(build.questions),
                list(build.layouts),
                cfg.rules,
                timezone=cfg.timezone,
                zip_table=cfg.zip_population is not None,
                weights=cfg.weights is not None,
                types=types,
            ),
            "codebook",
        )
        _write_cid_lists(ctx, lag, changes, res)
        res.rows_withheld = build.withheld
        # a rebuild that changed nothing leaves the publish folder as it was
        if not (ctx.rebuild and not res.written and not res.removed):
            pub.finish(
                new_entries, lambda: _manifest(ctx, fetch, norm, elig, delta, lag, res, build)
            )
        changes.files = [f.row() for f in _file_rows(fetch, norm, lag)]
        changes.days = [{"stale": False, **row} for row in new_days.values()]
        changes.replace_derived = lag.rebuild
        changes.settings = dict(build.settings) or None
        changes.summary = {
            "excluded": elig.excluded, "rows_in": norm.rows_in, "responses": elig.responses,
            "collisions": delta.collisions, "swaps": delta.swaps, "published": res.written,
            "linked": res.linked, "bytes_uploaded": res.bytes_uploaded,
        }  # fmt: skip
        ctx.store.commit(changes)
    _drop_superseded_stores(ctx, build)
    ctx.clean_run_dirs()
    return res


def move_old_layout(pub: Publisher) -> str:
    """Files of the layout before subfolders (the cumulative file, the monthly rollups and
    the codebook in the root) go to their folders (SPEC §3.6); returns what moved, in words
    ("" when nothing). Rollups are linked to their new names (their content is not rebuilt);
    the cumulative file and the codebook are written under their new names by every run.
    The old names go after the commit, once no SHA256SUMS lists them."""
    counts: dict[str, int] = {}
    for name, row in list(pub.current.items()):
        new = names.moved(name, row["kind"])
        if new is None:
            continue
        if row["kind"] == "rollup" and new not in pub.current and pub.loc.stat(name):
            pub.link(name, new, "rollup", row.get("day"), lambda n=name: pub.loc.read_bytes(n))
        pub.remove(name)
        folder = new.split("/", 1)[0]
        counts[folder] = counts.get(folder, 0) + 1
    return ", ".join(f"{n} file(s) to {folder}/" for folder, n in sorted(counts.items()))


def _drop_superseded_stores(ctx: RunContext, build: DayBuild) -> None:
    """After the commit: a rebuilt day's other store files (earlier versions, and those of
    runs that failed) are referenced by nothing any more."""
    for st in build.stores.values():
        if st.store is None:
            continue
        current = ctx.work / st.store
        for old in current.parent.glob("*.arrow"):
            if old != current:
                old.unlink(missing_ok=True)


def daily_names(ctx: RunContext, day_rows: dict[str, dict[str, Any]]) -> list[str]:
    """Daily versions a run may look up: each day's newest version and today's name for it
    (one or two per day, however many versions ``reissue: all`` has left)."""
    out = [r["published_name"] for r in day_rows.values() if r.get("published_name")]
    out += [names.daily(date.fromisoformat(d), ctx.recorded, ctx.cfg.gzip_daily) for d in day_rows]
    return out


def ledger_changes(delta: LedgerDelta, lag: LagResult) -> dict[str, tuple[str, ...]]:
    """The tokens that went on a CID list whose ledger row this run did not change, by
    day (the rows it changed are committed with their list: ``RunLedger.FINAL``)."""
    if not (delta.ledger and lag.cid_lists):
        return {}
    listed = RunLedger(delta.ledger).listed_elsewhere()
    by_day: dict[str, list[str]] = {}
    for t, day in zip(
        listed.column("token").to_pylist(), listed.column("day").to_pylist(), strict=True
    ):
        by_day.setdefault(day, []).append(t)
    return {day: tuple(tokens) for day, tokens in by_day.items()}


def _daily_bytes(ctx: RunContext, sha: str) -> bytes:
    """A day's published file from the local cache (gzip members when ``gzip_daily``)."""
    data = ctx.cached_csv(sha)
    if ctx.cfg.gzip_daily:
        return gzmembers.gz(data[: data.index(b"\n") + 1]) + gzmembers.member(ctx, sha)
    return data


def _publish_day(
    ctx: RunContext,
    pub: Publisher,
    d: date,
    day_rows: dict[str, dict[str, Any]],
    new_days: dict[str, dict[str, Any]],
    build: DayBuild,
    held_days: set[str],
    note: Any,
    res: PublishResult,
) -> str | None:
    """Publish one closed day per the re-issue policy; returns the content hash in force."""
    cfg, day = ctx.cfg, d.isoformat()
    known = day_rows.get(day, {})
    row = new_days.setdefault(day, {"rows": 0, "store": None, **known, "day": day})
    rendered = build.rendered.get(day)
    prev_name = known.get("published_name")
    if day in held_days:
        res.held_days.append(day)
        note("DELAY", "Publication of this day is held: a data check failed.", [day])
        return known.get("csv_sha")
    if rendered is None and not prev_name:
        return None
    sha = rendered.csv_sha if rendered else known["csv_sha"]
    name = names.daily(d, ctx.recorded, cfg.gzip_daily)
    changed = sha != known.get("csv_sha")
    if changed and prev_name == name:
        # Today's version is out already and a published name never gets other bytes: the
        # day keeps it, and the next run (a new `recorded` date) re-issues the change.
        row.update(stale=True, rows=int(known.get("rows") or 0))
        res.deferred_days.append(day)
        res.daily_counts[day] = row["rows"]
        return known["csv_sha"]
    if rendered:
        row.update(render_key=rendered.render_key, rows=rendered.rows)
    res.daily_counts[day] = rendered.rows if rendered else int(known.get("rows") or 0)
    within = (ctx.recorded - d).days <= cfg.stabilization_days + 1
    forced = day in ctx.forced_days
    # gzip_daily turned on or off: the day once under the new form, its content unchanged
    recompress = bool(prev_name) and prev_name.endswith(".gz") != cfg.gzip_daily
    if changed or not prev_name:
        pub.write(name, _daily_bytes(ctx, sha), "daily", day)
        if prev_name:
            res.reissued_days.append(day)
            if day in build.rerendered:  # named once for all such days, by the caller
                res.rerendered_days.append(day)
            elif not within:
                res.corrections.append(day)
                diff = row_changes(ctx.cached_csv(known["csv_sha"]), ctx.cached_csv(sha))
                note(
                    "CORRECTION",
                    f"Responses of this day changed after the {cfg.stabilization_days}-day "
                    f"stabilization window (late records or weights): {diff}; re-issued as "
                    f"{name}.",
                    [day],
                )
        else:
            res.first_published.append(day)
        if not prev_name and rendered and rendered.rows == 0:
            note(
                "DELAY",
                "No publishable responses for this day yet (missing or late input); the day "
                "is re-issued when late records arrive.",
                [day],
            )
        row.update(
            csv_sha=sha, published_name=name, changed_recorded=ctx.recorded.isoformat(), stale=False
        )
    elif recompress:
        pub.write(name, _daily_bytes(ctx, sha), "daily", day)
        res.recompressed_days.append(day)
    elif not ctx.rebuild and (cfg.reissue == "all" or within or forced) and prev_name != name:
        pub.link(prev_name, name, "daily", day, lambda: _daily_bytes(ctx, sha))
    else:
        out = pub.current.get(prev_name or "")
        if forced and out is not None:  # a backfilled day already out as it is: that file
            res.day_files[day] = DayFile(
                name=out["name"], sha256=out["sha256"], rows=res.daily_counts[day],
                recorded=str(known.get("published_recorded") or out["recorded"]),
            )  # fmt: skip
        return sha
    row.update(published_recorded=ctx.recorded.isoformat(), published_name=name)
    if rendered:
        row["rows"] = rendered.rows
    published = pub.current[name]
    res.day_files[day] = DayFile(
        name=name, sha256=published["sha256"], rows=res.daily_counts[day],
        recorded=ctx.recorded.isoformat(),
    )  # fmt: skip
    res.days_published += 1
    res.rows_published += res.daily_counts[day]
    if name in res.linked:
        res.rows_linked += res.daily_counts[day]
    else:
        res.rows_written += res.daily_counts[day]
    return sha


def row_changes(old: bytes, new: bytes) -> str:
    """How a day's rows changed between two versions of its file, in words ("3 row(s)
    replaced, 1 added; 120 rows now"): rows are compared whole (a published row has no
    key), so a changed value counts as a row replaced."""
    before = Counter(old.splitlines()[1:])
    after = Counter(new.splitlines()[1:])
    gone, came = sum((before - after).values()), sum((after - before).values())
    replaced = min(gone, came)
    parts = [f"{replaced} row(s) replaced"]
    if came > replaced:
        parts.append(f"{came - replaced} added")
    if gone > replaced:
        parts.append(f"{gone - replaced} removed")
    return f"{', '.join(parts)}; {sum(after.values())} rows now"


def _publish_cumulative(
    ctx: RunContext,
    pub: Publisher,
    build: DayBuild,
    members: list[str],
    first: date,
    lag: LagResult,
) -> None:
    header = to_csv_bytes(pd.DataFrame(columns=published_columns(list(build.questions))))
    name = names.cumulative(first, date.fromisoformat(lag.last_closed))
    pub.write_parts(name, _gz_parts(ctx, header, members), "cumulative")
    for old in [n for n, r in pub.current.items() if r["kind"] == "cumulative" and n != name]:
        pub.remove(old)


def _gz_parts(ctx: RunContext, header: bytes, shas: list[str]) -> Iterator[bytes]:
    """A gzip file of the days' rows (``shas``: their CSVs) under one header: the header's
    member, then each day's cached member, one at a time."""
    yield gzmembers.gz(header)
    for sha in shas:
        yield gzmembers.member(ctx, sha)


def _month_days(year: int, month: int) -> list[date]:
    first = date(year, month, 1)
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return day_range(first, nxt - timedelta(days=1))


def _publish_rollups(
    ctx: RunContext,
    pub: Publisher,
    build: DayBuild,
    members: dict[str, str],
    day_names: dict[str, str | None],
    note: Any,
) -> None:
    """``{YYYY}-{mm}.csv.gz`` and ``.tar`` once a month ended ``stabilization_days`` ago;
    rebuilt (and logged) only when a day of the month changed."""
    if not members:
        return
    delay = ctx.cfg.rollup_delay_days
    delay = ctx.cfg.stabilization_days if delay is None else delay
    header = to_csv_bytes(pd.DataFrame(columns=published_columns(list(build.questions))))
    touched = set(pub.res.reissued_days) | set(pub.res.first_published)
    months = sorted({(int(d[:4]), int(d[5:7])) for d in members})
    for year, month in months:
        days = [d.isoformat() for d in _month_days(year, month)]
        end = date.fromisoformat(days[-1])
        if (ctx.recorded - end).days <= delay or days[-1] not in members:
            continue
        gz_name, tar_name = names.monthly(year, month, "csv.gz"), names.monthly(year, month, "tar")
        month_touched = any(d in touched for d in days)
        if gz_name in pub.current and tar_name in pub.current and not month_touched:
            continue
        in_month = [d for d in days if d in members]
        parts = _gz_parts(ctx, header, [members[d] for d in in_month])
        rebuilt = pub.write_parts(gz_name, parts, "rollup")
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT) as tf:
            for d in in_month:
                name = day_names.get(d) or names.daily(date.fromisoformat(d), ctx.recorded)
                body = ctx.cached_csv(members[d])
                if name.endswith(".gz"):
                    body = gzmembers.gz(body[: body.index(b"\n") + 1]) + gzmembers.member(
                        ctx, members[d]
                    )
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(body), int(ctx.as_of.timestamp()), 0o644
                tf.addfile(info, io.BytesIO(body))
        pub.write(tar_name, tar.getvalue(), "rollup")
        if rebuilt and any(d in pub.res.reissued_days for d in days):
            note(
                "CORRECTION",
                f"Monthly rollup {gz_name} and {tar_name} rebuilt: a day of the month changed.",
                [d for d in days if d in pub.res.reissued_days],
            )


def _write_cid_lists(
    ctx: RunContext, lag: LagResult, changes: RunChanges, res: PublishResult
) -> None:
    if not lag.cid_counts:
        return
    loc = ctx.open(ctx.cfg.cid_out) if ctx.cfg.cid_out else None
    try:
        for day, tokens in lag.cid_list_tokens():
            name = names.cid_list(date.fromisoformat(day))
            if loc is not None:
                loc.write_atomic(
                    name, "".join(["\n".join(tokens), "\n" if tokens else ""]).encode()
                )
            changes.cid_lists.append(
                {"day": day, "name": name, "count": len(tokens), "run_id": ctx.run_id}
            )
    finally:
        if loc is not None:
            loc.close()


def _file_rows(fetch: FetchResult, norm: NormalizeResult, lag: LagResult) -> list[InputFile]:
    """Every input file this run saw, with what parsing made of it."""
    return [*with_outcomes(fetch.files, norm.file_status), *lag.weight_files]


def _manifest(
    ctx: RunContext,
    fetch: FetchResult,
    norm: NormalizeResult,
    elig: EligibilityResult,
    delta: LedgerDelta,
    lag: LagResult,
    res: PublishResult,
    build: DayBuild,
) -> bytes:
    return manifest(ctx, _file_rows(fetch, norm, lag), {
        "timezone": ctx.cfg.timezone,
        "rows_in": norm.rows_in,
        "responses": elig.responses,
        "eligible": elig.eligible,
        "excluded_by_reason": elig.excluded,
        "deferred_recorded_after_clock": norm.deferred,
        "collisions": delta.collisions,
        "swaps": delta.swaps,
        "quarantined": [q.path for q in norm.quarantined + lag.quarantined],
        "published": res.written,
        "reissued_by_link": res.linked,
        "reissued_days": res.reissued_days,
        "reissued_settings_changed": res.rerendered_days,
        "reissued_gzip_daily_changed": res.recompressed_days,
        "rows_in_files_written": res.rows_written,
        "rows_in_files_reissued_by_link": res.rows_linked,
        "rows_withheld_no_weight_or_late": res.rows_withheld,
        "cells_guarded_formula": build.guarded,  # in the days rendered by this run
        "parquet_cells_not_typed": res.cells_untyped,  # null in the Parquet copies written
        "corrections": res.corrections,
        "held_days": res.held_days,
        "deferred_days_version_of_today_published": res.deferred_days,
        "removed": res.removed,
        "bytes_uploaded": res.bytes_uploaded,
    })  # fmt: skip
