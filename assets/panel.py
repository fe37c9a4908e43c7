"""Panel-study assets: one asset per stage of SPEC §2, keyed ``[study, stage]``.

Each asset calls one plain-Python stage of :mod:`pipeline.panel`; results travel between
steps through the IO manager, so the nightly job runs under Dagster's multiprocess executor
and re-executes from a failed step. The run's one state commit happens in the publish step.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    DynamicOut,
    DynamicOutput,
    MaterializeResult,
    MetadataValue,
    OpExecutionContext,
    Out,
    Output,
    asset,
    asset_check,
    graph_asset,
    op,
)

from assets.retries import retry_transient
from assets.signals import (
    PUBLISH_KEYS,
    attention,
    check_result,
    describe,
    fetch_metadata,
    hold_if_failed,
    publish_metadata,
    responses_chart,
    warn,
    warn_quarantined,
)
from assets.study import Study
from pipeline import checks
from pipeline.context import RunContext
from pipeline.fetching import FetchResult
from pipeline.panel.eligibility import REASONS
from pipeline.panel.settings import rebuilding
from pipeline.panel.stages import days, eligibility, fetch, lag, ledger, normalize
from pipeline.panel.stages.publish import publish_and_commit
from pipeline.panel.stages.render import RenderedDay
from pipeline.publishing import PublishResult

# publication_complete warns when more than this share of the eligible rows of the days a
# run rendered is withheld (no weight yet, or late): a few late rows a night are routine.
WITHHELD_WARN_SHARE = 0.10
SFTP_POOL = "sftp"  # steps that talk to SFTP servers share this concurrency pool
DAY_FILE = "day_file"  # the per-day partitioned asset (assets/days.py)
# Days per rendering step of the day stage's fan-out: a month's share is seconds of work
# for a large study, and a night renders its few days in one step.
DAYS_PER_RENDER_STEP = 31


def withheld_share(build: days.DayBuild) -> float:
    """Rows withheld as a share of the eligible rows of the days a run rendered."""
    total = sum(r.rows + r.withheld for r in build.rendered.values())
    return build.withheld / total if total else 0.0


def record_day_files(context: AssetExecutionContext, study: Study, res: PublishResult) -> None:
    """Partitions tell the truth (SPEC §7): a day whose published content the run wrote for
    the first time or changed is a materialization of the study's day partition, with rows,
    the `recorded` date of that content and its SHA-256. An unchanged day re-issued under a
    new name (``reissue: all``) is not: the run's metadata counts those."""
    changed = set(res.first_published) | set(res.reissued_days)
    for day, f in sorted(res.day_files.items()):
        if day not in changed:
            continue
        context.log_event(
            AssetMaterialization(
                asset_key=AssetKey([study.name, DAY_FILE]),
                partition=day,
                description=f"{f.name} published by run {context.run.run_id}",
                metadata={
                    "rows": f.rows,
                    "recorded": f.recorded,
                    "sha256": f.sha256,
                    "file": f.name,
                },  # fmt: skip
            )
        )


def panel_assets(study: Study) -> list[AssetsDefinition]:
    """The nightly stages of one panel study."""
    name, rkey, group = study.name, study.resource_key, study.name

    def key(stage: str) -> AssetKey:
        return AssetKey([name, stage])

    def ins(*stages_: str) -> dict[str, AssetIn]:
        return {s: AssetIn(key=key(s)) for s in stages_}

    def ctx_of(context: AssetExecutionContext) -> RunContext:
        return getattr(context.resources, rkey).ctx

    @asset(
        key=key("raw_exports"), group_name=group, **study.asset_meta("python", "csv"), pool=SFTP_POOL, required_resource_keys={rkey}, io_manager_key=study.io_manager_key,
        description=describe(
            "New raw exports fetched from the drop into the raw archive (before parsing).",
            ["files_listed", "files_new", "duplicates", "bytes_fetched"],
        ),
    )  # fmt: skip
    @retry_transient(rkey)
    def raw_exports(context: AssetExecutionContext) -> Output[FetchResult]:
        ctx = ctx_of(context)
        res = fetch.fetch_exports(ctx, rebuild=rebuilding(ctx))
        md = fetch_metadata(res.listed, len(res.to_parse), res.duplicates, res.bytes_fetched)
        return Output(res, metadata=md)

    @asset(
        key=key("normalized_responses"), group_name=group, **study.asset_meta("pyarrow", "great_expectations"), ins=ins("raw_exports"),
        required_resource_keys={rkey}, io_manager_key=study.io_manager_key,
        check_specs=[
            AssetCheckSpec("normalized_responses_valid", asset=key("normalized_responses"),
                           blocking=True,
                           description="GE suite: required columns, parsed timestamps, share "
                           "of known SurveyIDs (a failure holds publication)."),
            AssetCheckSpec("inputs_accepted", asset=key("normalized_responses"),
                           description="WARN when an input file was quarantined."),
        ],
        description=describe(
            "Exports parsed into one schema; malformed files quarantined.",
            ["rows_in", "quarantined", "deferred_recorded_after_clock", "unknown_survey_ids",
             "quarantine_errors"],
        ),
    )  # fmt: skip
    def normalized_responses(context: AssetExecutionContext, raw_exports: FetchResult) -> Iterator:
        ctx = ctx_of(context)
        res = normalize.normalize_exports(ctx, raw_exports)
        warn_quarantined(context, res.quarantined)
        yield Output(
            res,
            metadata={
                "rows_in": res.rows_in,
                "quarantined": len(res.quarantined),
                "deferred_recorded_after_clock": res.deferred,
                "unknown_survey_ids": res.unknown_waves,
                "quarantine_errors": MetadataValue.md(
                    "\n".join(f"- {q.error}" for q in res.quarantined) or "none"
                ),
            },
        )
        yield attention(
            "inputs_accepted", key("normalized_responses"),
            {"quarantined": [q.path for q in res.quarantined]},
            "Input files quarantined by this run (kept in the archive, named in OUTAGES.txt).",
        )  # fmt: skip
        outcome = checks.check_normalized_files(res.batches)
        hold_if_failed(ctx, outcome, "normalized responses")
        yield check_result(
            outcome, "normalized responses", "normalized_responses_valid",
            key("normalized_responses"),
        )  # fmt: skip

    @asset(
        key=key("eligible_responses"), group_name=group, **study.asset_meta("pyarrow"), ins=ins("normalized_responses"),
        required_resource_keys={rkey}, io_manager_key=study.io_manager_key,
        description=describe(
            "Responses de-duplicated by ResponseId, each with its first failed rule.",
            ["responses", "eligible", "excluded_*"],
        ),
    )  # fmt: skip
    def eligible_responses(
        context: AssetExecutionContext, normalized_responses: normalize.NormalizeResult
    ) -> Output[eligibility.EligibilityResult]:
        res = eligibility.apply_eligibility(ctx_of(context), normalized_responses)
        md = {f"excluded_{k}": res.excluded.get(k, 0) for k in REASONS}
        return Output(res, metadata={"responses": res.responses, "eligible": res.eligible, **md})

    @asset(
        key=key("response_ledger"), group_name=group, **study.asset_meta("pyarrow", "sql"), ins=ins("eligible_responses"),
        required_resource_keys={rkey}, io_manager_key=study.io_manager_key,
        description=describe(
            "The token ledger: earliest start wins, remembered forever.",
            ["tokens_seen", "new_tokens", "collisions", "swaps", "days_touched"],
        ),
    )  # fmt: skip
    def response_ledger(
        context: AssetExecutionContext, eligible_responses: eligibility.EligibilityResult
    ) -> Output[ledger.LedgerDelta]:
        res = ledger.resolve_collisions(ctx_of(context), eligible_responses)
        return Output(
            res,
            metadata={
                "tokens_seen": res.tokens_seen,
                "new_tokens": res.new_tokens,
                "collisions": res.collisions,
                "swaps": res.swaps,
                "days_touched": len(res.dirty_days),
            },
        )

    @asset(
        key=key("lag_policy"), group_name=group, **study.asset_meta("pyarrow", "csv"), pool=SFTP_POOL, ins=ins("response_ledger"),
        required_resource_keys={rkey}, io_manager_key=study.io_manager_key,
        description=describe(
            "Cut-offs, weights (the weights decide publication) and the CID lists now due.",
            ["last_closed_day", "new_weights", "cid_lists_due", "cids_listed"],
        ),
    )  # fmt: skip
    @retry_transient(rkey)
    def lag_policy(
        context: AssetExecutionContext, response_ledger: ledger.LedgerDelta
    ) -> Output[lag.LagResult]:
        res = lag.apply_lag_policy(ctx_of(context), response_ledger)
        warn_quarantined(context, res.quarantined, "weights file")
        return Output(
            res,
            metadata={
                "last_closed_day": res.last_closed,
                "new_weights": res.weight_count,
                "cid_lists_due": len(res.cid_counts),
                "cids_listed": sum(res.cid_counts.values()),
            },
        )

    # The day stage as a graph: the stores are rebuilt in one step (batch after batch, in
    # delivery order), then the days due render in shares of DAYS_PER_RENDER_STEP, each its
    # own step (a dynamic fan-out: on the Celery executor, spread over the workers), and
    # one step assembles the result.
    @op(name=f"{name}__plan_days", required_resource_keys={rkey},
        out=Out(io_manager_key=study.io_manager_key))  # fmt: skip
    def plan_days(
        context: OpExecutionContext,
        normalized_responses: normalize.NormalizeResult,
        response_ledger: ledger.LedgerDelta,
        lag_policy: lag.LagResult,
    ) -> days.DayPlan:
        return days.plan_days(ctx_of(context), normalized_responses, response_ledger, lag_policy)

    @op(name=f"{name}__days_to_render", out=DynamicOut(io_manager_key=study.io_manager_key))
    def days_to_render(plan: days.DayPlan) -> Iterator[DynamicOutput]:
        due = plan.to_render
        for at in range(0, len(due), DAYS_PER_RENDER_STEP):
            share = list(due[at : at + DAYS_PER_RENDER_STEP])
            yield DynamicOutput(share, mapping_key=f"from_{share[0].replace('-', '_')}")

    # No study resource: it would take the study's run lock, which the other shares'
    # steps hold (days.render_context says why rendering needs none).
    @op(name=f"{name}__render_days", out=Out(io_manager_key=study.io_manager_key))
    def render_days(
        context: OpExecutionContext, plan: days.DayPlan, share: list[str]
    ) -> dict[str, RenderedDay]:
        with days.render_context(plan, context.run_id) as ctx:
            return days.render_days(ctx, plan, share)

    @op(name=f"{name}__assemble_days", out=Out(io_manager_key=study.io_manager_key))
    def assemble_days(
        context: OpExecutionContext, plan: days.DayPlan, shares: list[dict[str, RenderedDay]]
    ) -> Output[days.DayBuild]:
        res = days.assemble_days(plan, {d: r for share in shares for d, r in share.items()})
        if res.withheld:
            warn(context, f"{res.withheld} eligible winner(s) withheld (no weight yet, or late)")
        if res.rerendered:
            warn(context, f"{len(res.rerendered)} day(s) rendered again: {res.change}")
        return Output(
            res,
            metadata={
                "days_rebuilt": len(res.stores),
                "days_rendered": len(res.rendered),
                "days_rerendered_settings_changed": len(res.rerendered),
                "rows_withheld": res.withheld,
                "schema_changed": res.schema_changed,
                "columns": len(res.questions),
            },
        )

    @graph_asset(
        key=key("day_partitions"), group_name=group, **study.asset_meta("pyarrow", "great_expectations"),
        ins=ins("normalized_responses", "response_ledger", "lag_policy"),
        description=describe(
            "Per-day response sets (study time zone), rendered day files (the rendering fans "
            f"out in steps of {DAYS_PER_RENDER_STEP} days).",
            ["days_rebuilt", "days_rendered", "days_rerendered_settings_changed",
             "rows_withheld", "schema_changed", "columns"],
        ),
    )  # fmt: skip
    def day_partitions(normalized_responses, response_ledger, lag_policy):  # noqa: ANN001, ANN202
        plan = plan_days(normalized_responses, response_ledger, lag_policy)
        shares = days_to_render(plan).map(lambda share: render_days(plan, share))
        return assemble_days(plan, shares.collect())

    @asset_check(
        asset=day_partitions, name="day_files_valid", blocking=True,
        required_resource_keys={rkey},
        description="GE suite on each rendered day: exact header (no forbidden column), one "
        "row per respondent, StartDatetime inside its day, positive weights (a failure holds "
        "publication).",
    )  # fmt: skip
    def day_files_valid(
        context: AssetCheckExecutionContext, day_partitions: days.DayBuild
    ) -> AssetCheckResult:
        res = day_partitions
        outcome = checks.check_day_files(
            {day: r.check for day, r in res.rendered.items()},
            list(res.questions),
            {day: list(r.header) for day, r in res.rendered.items()},
        )
        hold_if_failed(ctx_of(context), outcome, "published day files")
        return check_result(
            outcome, "published day files", "day_files_valid", key("day_partitions")
        )

    @asset(
        key=key("published_files"), group_name=group, **study.asset_meta("csv", "sftp"), pool=SFTP_POOL,
        ins=ins("raw_exports", "normalized_responses", "eligible_responses", "response_ledger",
                "lag_policy", "day_partitions"),
        required_resource_keys={rkey},
        check_specs=[
            AssetCheckSpec("publication_complete", asset=key("published_files"),
                           description="WARN on what an operator must act on: a day held by a "
                           "failed check, a CORRECTION entry, or more than "
                           f"{WITHHELD_WARN_SHARE:.0%} of the rendered days' eligible rows "
                           "withheld (late rows waiting for a weight are routine below it)."),
            AssetCheckSpec("no_empty_days", asset=key("published_files"),
                           description="WARN when a day was first published with no row (a "
                           "DELAY entry: missing or late input)."),
        ],
        description=describe(
            "Daily, cumulative, rollups, codebook, CID lists, OUTAGES, SHA256SUMS and the run "
            "manifest; the run's state commit.",
            [*PUBLISH_KEYS,
             "rows_withheld", "days_reissued", "days_reissued_settings_changed",
             "days_reissued_unchanged", "corrections",
             "held_days", "manifest", "responses_per_day"],
        ),
    )  # fmt: skip
    @retry_transient(rkey)
    def published_files(
        context: AssetExecutionContext,
        raw_exports: FetchResult,
        normalized_responses: normalize.NormalizeResult,
        eligible_responses: eligibility.EligibilityResult,
        response_ledger: ledger.LedgerDelta,
        lag_policy: lag.LagResult,
        day_partitions: days.DayBuild,
    ) -> Iterator:
        res = publish_and_commit(
            ctx_of(context), raw_exports, normalized_responses, eligible_responses,
            response_ledger, lag_policy, day_partitions,
        )  # fmt: skip
        record_day_files(context, study, res)  # committed: now they are true
        if res.corrections or res.rerendered_days:
            warn(context, f"CORRECTION entries for {sorted(res.corrections + res.rerendered_days)}")
        if res.held_days:
            warn(context, f"publication held for {res.held_days}")
        withheld = withheld_share(day_partitions)
        yield MaterializeResult(
            metadata={
                **publish_metadata(res),
                "rows_withheld": res.rows_withheld,
                "days_reissued": len(res.reissued_days),
                "days_reissued_unchanged": len(set(res.day_files) - set(res.reissued_days)
                                               - set(res.first_published)),
                "days_reissued_settings_changed": len(res.rerendered_days),
                "corrections": len(res.corrections),
                "held_days": len(res.held_days),
                "manifest": res.manifest,
                "responses_per_day": responses_chart(res.daily_counts),
            },
            check_results=[
                attention(
                    "publication_complete", key("published_files"),
                    {"rows_withheld_over_threshold": res.rows_withheld if withheld
                     > WITHHELD_WARN_SHARE else 0,
                     "held_days": res.held_days,
                     "corrections": sorted(set(res.corrections + res.rerendered_days))},
                    f"Days held by a check, CORRECTION entries, rows withheld over "
                    f"{WITHHELD_WARN_SHARE:.0%} (this run: {withheld:.1%}).",
                ),
                attention(
                    "no_empty_days", key("published_files"),
                    {"empty_days": [d for d in res.first_published
                                    if not res.daily_counts.get(d)]},
                    "Days first published with no row (DELAY entries in OUTAGES.txt).",
                ),
            ],
        )  # fmt: skip

    return [
        raw_exports,
        normalized_responses,
        eligible_responses,
        response_ledger,
        lag_policy,
        day_partitions,
        day_files_valid,
        published_files,
    ]
