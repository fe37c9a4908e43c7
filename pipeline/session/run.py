"""A nightly run of a session study (SPEC §4): fetch, process the whole drop, publish.

Session studies are small (thousands of sessions), so every run rebuilds the study-wide
files from all archived input; unchanged files are not re-sent. A consent ruling that
arrives days later changes its response's `for` day: the run reports which days changed.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field

from pipeline.config import Config, ConfigError
from pipeline.context import RunContext
from pipeline.fetching import (
    FetchResult,
    FileStatus,
    InputFile,
    Quarantined,
    fetch_inputs,
    quarantine_notices,
    set_aside,
    with_outcomes,
)
from pipeline.publishing import Publisher, PublishResult, manifest
from pipeline.session.outputs import StudySettings
from pipeline.session.process import SessionResult, load_drop, process_drop
from pipeline.session.records import Ruling, SessionInputError, input_kind, unmatched_rulings
from pipeline.session.reports import record_notices

KIND = "session"


def settings_for(cfg: Config) -> StudySettings:
    """Study settings with the salt read from its environment variable (never a file)."""
    block = cfg.session
    if block is None:
        raise ConfigError("kind: session needs a session: block")
    salt = os.environ.get(block.salt_env or "")
    if not salt:
        raise ConfigError(f"the study salt is read from ${block.salt_env}, which is not set")
    try:
        return StudySettings.from_config(block, salt)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def run_night(ctx: RunContext) -> PublishResult:
    """A session study's night, start to end (the Dagster assets call the same stages)."""
    fetched = fetch_session_files(ctx)  # raw bytes archived before parsing
    built = build_session(ctx, fetched)  # every record judged; bad files set aside
    return publish_session(ctx, fetched, built)  # changed files published, then the commit


def fetch_session_files(ctx: RunContext) -> FetchResult:
    """New response records, consent rulings and video lists, archived before parsing."""
    return fetch_inputs(ctx, lambda p: input_kind(p.rsplit("/", 1)[-1]) is not None, KIND)


@dataclass(frozen=True)
class SessionBuild:
    """The processed drop and the files to publish."""

    files: Mapping[str, bytes] = field(default_factory=dict)  # published name -> bytes
    quarantined: tuple[Quarantined, ...] = ()
    file_status: Mapping[str, FileStatus] = field(default_factory=dict)  # by content hash
    responses: int = 0
    published: int = 0
    excluded: Mapping[str, int] = field(default_factory=dict)  # responses per reason
    day_counts: Mapping[str, int] = field(default_factory=dict)  # published responses per day
    day_hashes: Mapping[str, str] = field(default_factory=dict)  # a hash of each day's set
    collisions: tuple[str, ...] = ()
    set_aside: tuple[SessionInputError, ...] = ()  # records of this run's new files, set aside
    unknown_keys: Mapping[str, int] = field(default_factory=dict)  # in this run's new files
    unmatched_rulings: tuple[Ruling, ...] = ()  # this run's new rulings on unknown responses


@dataclass
class Inputs:
    """Every session input in use (name → (sha, bytes)) and what parsing this run's new
    files found: files to quarantine, records set aside, unknown keys, ruling rows."""

    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    bad: dict[str, tuple[str, Exception]] = field(default_factory=dict)  # path → (sha, error)
    set_aside: dict[str, tuple[str, list[SessionInputError]]] = field(default_factory=dict)
    unknown_keys: Counter[str] = field(default_factory=Counter)
    rulings: list[Ruling] = field(default_factory=list)


def _inputs(ctx: RunContext, fetch: FetchResult) -> Inputs:
    """Every session input ever applied plus this run's new files.

    A new file that cannot be read at all is returned among ``bad`` and the last applied
    version of that path, if any, stays in use; a new responses file with bad records is
    used (its good records) and its bad records are listed in ``set_aside``.
    """
    shas = {f["path"]: f["sha256"] for f in ctx.store.applied_files(KIND)}
    out = Inputs()
    study = ctx.cfg.session.study_uuid if ctx.cfg.session else None
    for sha, path in fetch.to_parse:
        read = load_drop({path: ctx.archive.get(sha)}, study)
        if read.errors:
            out.bad[path] = (sha, read.errors[0])
            continue
        shas[path] = sha
        if read.set_aside:
            out.set_aside[path] = (sha, read.set_aside)
        out.unknown_keys.update(read.unknown_keys)
        out.rulings.extend(read.ruling_rows)
    out.files = {p: (sha, ctx.archive.get(sha)) for p, sha in sorted(shas.items())}
    return out


def build_session(ctx: RunContext, fetch: FetchResult) -> SessionBuild:
    """Parse everything, apply consent and preview rules, build every published file."""
    settings = settings_for(ctx.cfg)
    found = _inputs(ctx, fetch)
    inputs = found.files
    # one name per content: the same bytes delivered twice count once
    by_sha: dict[str, str] = {}
    for path, (sha, _data) in inputs.items():
        by_sha.setdefault(sha, path)
    files = {path: inputs[path][1] for path in by_sha.values()}
    result: SessionResult = process_drop(
        files, settings, ctx.cfg.session.include_preview, ctx.cfg.timezone, as_of=ctx.as_of
    )
    quarantined: list[Quarantined] = list(fetch.skipped)  # not read: reported alike
    status: dict[str, FileStatus] = {}
    for path, (sha, error) in sorted(found.bad.items()):
        quarantined.append(set_aside(ctx, sha, path, error))
        status[sha] = FileStatus("quarantined", error=str(error))
    for path, (sha, problems) in sorted(found.set_aside.items()):
        # the file's bytes and the list of its set-aside records, kept side by side
        ctx.archive.quarantine(sha, path, "\n".join(str(e) for e in problems))
    for _path, (sha, _data) in inputs.items():
        status.setdefault(sha, FileStatus("applied"))
    new_rulings = [r for r in found.rulings if r.created_at <= ctx.as_of]  # the clock's
    per_day: dict[str, list[str]] = {}
    for record in result.published:
        uid = record["response"]["uuid"]
        per_day.setdefault(result.days[uid].isoformat(), []).append(uid)
    return SessionBuild(
        files=result.files, quarantined=tuple(quarantined), file_status=status,
        responses=len(result.drop.records), published=len(result.published),
        excluded=dict(result.excluded),
        day_counts={d: len(u) for d, u in sorted(per_day.items())},
        day_hashes={d: hashlib.sha256("\n".join(sorted(u)).encode()).hexdigest()
                    for d, u in per_day.items()},
        collisions=tuple(f"{c.hashed_id}: {', '.join(c.global_ids)}" for c in result.collisions),
        set_aside=tuple(e for _p, (_s, errors) in sorted(found.set_aside.items()) for e in errors),
        unknown_keys=dict(sorted(found.unknown_keys.items())),
        unmatched_rulings=tuple(unmatched_rulings(new_rulings, result.drop.records)),
    )  # fmt: skip


def publish_session(ctx: RunContext, fetch: FetchResult, build: SessionBuild) -> PublishResult:
    """Upload changed files, OUTAGES, SHA256SUMS and the manifest; commit the run at once."""
    res = PublishResult()
    changes = ctx.new_changes(fetch.base_seq)
    changes.outages += quarantine_notices(ctx, build.quarantined)
    changes.outages += record_notices(ctx, build.set_aside, build.unmatched_rulings)
    known_days = ctx.store.days()
    changed_days = sorted(
        d for d in set(build.day_hashes) | set(known_days)
        if build.day_hashes.get(d) != known_days.get(d, {}).get("csv_sha")
    )  # fmt: skip
    changes.days = [
        {"day": d, "store": None, "rows": build.day_counts.get(d, 0),
         "csv_sha": build.day_hashes.get(d), "published_name": None,
         "published_recorded": ctx.recorded.isoformat(), "changed_recorded": ctx.recorded.isoformat(),
         "stale": False}
        for d in changed_days
    ]  # fmt: skip
    inputs = with_outcomes(fetch.files, build.file_status)
    changes.files = [f.row() for f in inputs]
    with (
        closing(ctx.open(ctx.cfg.publish)) as loc,
        Publisher(ctx, loc, changes, res, recover=True) as pub,  # rolls back on failure
    ):
        for name, data in sorted(build.files.items()):
            pub.write(name, data, "session")
        res.reissued_days = changed_days
        res.daily_counts = dict(build.day_counts)
        res.days_published = len(build.day_counts)
        res.rows_published = build.published
        pub.finish(changes.outages, lambda: _manifest(ctx, inputs, build, res))
        changes.summary = {"published": res.written, "responses": build.responses}
        ctx.store.commit(changes)
    return res


def _manifest(
    ctx: RunContext, inputs: list[InputFile], build: SessionBuild, res: PublishResult
) -> bytes:
    """The run manifest. ``unknown_keys`` counts the unknown keys met in this run's new
    files; ``unknown_key_names`` splits that count by name only for the platform's own
    field names (:data:`pipeline.session.response_file.KNOWN_KEY_NAMES`), every other key
    under ``(other)``: a key may hold a respondent's data in a broken export (SPEC §6)."""
    return manifest(ctx, inputs, {
        "responses": build.responses,
        "published_responses": build.published,
        "excluded_by_reason": build.excluded,
        "days_changed": res.reissued_days,
        "hashed_id_collisions": list(build.collisions),
        "quarantined": [q.path for q in build.quarantined],
        "records_set_aside": len(build.set_aside),
        "set_aside": [str(e) for e in build.set_aside],
        "rulings_without_response": len(build.unmatched_rulings),
        "unknown_keys": sum(build.unknown_keys.values()),
        "unknown_key_names": dict(build.unknown_keys),
        "published": res.written,
        "bytes_uploaded": res.bytes_uploaded,
    })  # fmt: skip
