"""Command line of SPEC §8: ``python -m pipeline {run,backfill,rebuild,outage,synth,latest,idmap}``.

``run``, ``backfill`` and ``rebuild`` execute the same Dagster job the nightly schedule
runs, in-process. Exit codes: 0 success; 1 a failed run; 2 a usage or configuration error
(named flag or key); 3 publication held by a failed data check; 75 (``EX_TEMPFAIL``)
another run of the study is in progress (try later). Every failure prints one line on
stderr. Configuration is validated, and the run lock probed, before Dagster is imported.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

from pipeline.config import ConfigError, load_config

OVERRIDES = ("source", "publish", "weights", "cid_out", "state", "archive")
EXIT_RUN_IN_PROGRESS = 75  # sysexits.h EX_TEMPFAIL: another run holds the study's lock


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) that name the flag."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: usage: {' '.join(message.split())} (see {self.prog} --help)\n")


def iso_clock(text: str) -> str:
    """An ISO 8601 clock (``2021-06-02T12:00:00Z``; naive = UTC), kept as given."""
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {text!r} (e.g. 2021-06-02T12:00:00Z)"
        ) from None
    return text


def iso_day(text: str) -> date:
    """A ``YYYY-MM-DD`` date."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def iso_days(text: str) -> list[str]:
    """Comma-separated ``YYYY-MM-DD`` dates."""
    return [iso_day(d.strip()).isoformat() for d in text.split(",") if d.strip()]


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run", help="one nightly run: ingest what is new, apply the rules, publish"
    )
    run.add_argument("--config", required=True)
    run.add_argument(
        "--as-of", type=iso_clock, help="the run's clock, ISO 8601 (default: now; naive = UTC)"
    )
    for name in OVERRIDES:
        run.add_argument(f"--{name.replace('_', '-')}", dest=name)

    back = sub.add_parser("backfill", help="re-materialize and re-publish a range of days")
    back.add_argument("--config", required=True)
    back.add_argument("--from", dest="first", required=True, type=iso_day)
    back.add_argument("--to", dest="last", required=True, type=iso_day)
    back.add_argument("--as-of", type=iso_clock)

    reb = sub.add_parser(
        "rebuild",
        help="recompute the ledger, day stores and every derived file from the raw archive; "
        "republish only what differs",
    )
    reb.add_argument("--config", required=True)
    reb.add_argument(
        "--as-of", type=iso_clock, help="the run's clock (default: the newest run's clock)"
    )

    out = sub.add_parser("outage", help="OUTAGES.txt entries")
    out_sub = out.add_subparsers(dest="outage_command", required=True)
    add = out_sub.add_parser("add", help="add an operator entry on top of OUTAGES.txt")
    add.add_argument("--config", required=True)
    add.add_argument("--kind", required=True, choices=["DELAY", "CORRECTION", "NOTICE"])
    add.add_argument("--message", required=True)
    add.add_argument("--days", type=iso_days, default=[], help="comma-separated YYYY-MM-DD")

    syn = sub.add_parser("synth", help="write realistic raw exports (deterministic for a seed)")
    syn.add_argument("--kind", required=True, choices=["panel", "session"])
    syn.add_argument("--out", required=True)
    syn.add_argument("--start", required=True, type=iso_day)
    syn.add_argument("--days", required=True, type=int)
    syn.add_argument("--per-day", required=True, type=int)
    syn.add_argument("--seed", type=int, default=0)

    lat = sub.add_parser("latest", help="newest `recorded` version of every day as one table")
    lat.add_argument("loc")
    lat.add_argument("--out")
    lat.add_argument("--config", help="for SFTP credentials (sftp: block)")

    idm = sub.add_parser("idmap", help="cross-study hashed child-ID map of two session studies")
    idm.add_argument("--config", required=True)
    idm.add_argument("--other", required=True)
    idm.add_argument("--out", required=True)
    return p


def _run_job(args: argparse.Namespace, extra: dict[str, Any] | None = None) -> int:
    cfg = load_config(args.config)  # validate the file (and flags) before starting a run
    overrides = {k: getattr(args, k, None) for k in OVERRIDES}
    cfg = cfg.with_overrides(**overrides)
    if cfg.kind == "session":
        from pipeline.session.run import settings_for

        settings_for(cfg)  # a missing salt stops the run before anything is fetched
    _refuse_if_running(cfg.state)

    resource_cfg: dict[str, Any] = {
        "config_path": str(Path(args.config).resolve()),
        "step_retries": 0,  # a CLI run fails fast with one line; rerunning is the retry
    }
    resource_cfg.update({k: v for k, v in overrides.items() if v is not None})
    if args.as_of:
        resource_cfg["as_of"] = args.as_of
    days = extra.pop("days", None) if extra else None
    resource_cfg.update(extra or {})
    # The Dagster layer is loaded by name: this command line is where the plain-Python
    # domain hands over to it (pipeline/ itself never imports Dagster).
    launch = importlib.import_module("assets.launch")  # seconds: once the config is valid
    out = launch.run_study(resource_cfg["config_path"], resource_cfg, days)
    print(f"published {len(out.written)} file(s), re-issued {out.linked} by link, "
          f"{out.rows} rows over {out.days} day(s) -> {cfg.publish}")  # fmt: skip
    for name in out.written:
        print(f"  wrote  {name}")
    return 0


def _refuse_if_running(state: str) -> None:
    """Raise ``RunInProgressError`` at once, before Dagster starts, when another run holds
    the study's run lock (the run's own resource takes the lock for the run itself)."""
    from pipeline.state.lock import probe

    probe(state)


def _root_cause(exc: BaseException) -> BaseException:
    """Unwrap Dagster's wrappers down to the pipeline's own exception."""
    while type(exc).__module__.startswith("dagster"):
        inner = getattr(exc, "user_exception", None) or exc.__cause__
        if inner is None:
            break
        exc = inner
    return exc


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    # Library warnings (SFTP retries, ...) stay quiet unless asked for: stderr carries one line.
    level = os.environ.get("PIPELINE_LOG_LEVEL", "CRITICAL").upper()
    handler = logging.StreamHandler()
    handler.setLevel(level)  # libraries that set their own logger level are filtered too
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout's reader went away (`... | head -n 1`). Output comes after the work is
        # committed, so only the listing is lost; exit quietly like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - the CLI's contract is a one-line reason
        cause = _root_cause(exc)
        msg = " ".join(str(cause).split()) or cause.__class__.__name__
        if cause.__class__.__name__ == "DagsterAssetCheckFailedError":
            print(f"error: publication held (see OUTAGES.txt): {msg}", file=sys.stderr)
            return 3
        print(f"error: {cause.__class__.__name__}: {msg}", file=sys.stderr)
        if cause.__class__.__name__ == "RunInProgressError":
            return EXIT_RUN_IN_PROGRESS
        return 2 if isinstance(cause, ConfigError) else 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _run_job(args)
    if args.command == "backfill":
        if args.last < args.first:
            raise ConfigError("--to is before --from")
        for name in OVERRIDES:
            setattr(args, name, None)
        return _run_job(args, {"days": (args.first.isoformat(), args.last.isoformat())})
    if args.command == "rebuild":
        for name in OVERRIDES:
            setattr(args, name, None)
        return _run_job(args, {"rebuild": True})
    if args.command == "outage":
        return _outage_add(args)
    if args.command == "synth":
        return _synth(args)
    if args.command == "latest":
        return _latest(args)
    if args.command == "idmap":
        return _idmap(args)
    raise ConfigError(f"unknown command {args.command}")


def _outage_add(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from pipeline.context import RunContext
    from pipeline.operations import add_outage
    from pipeline.state.store import StateStore

    cfg = load_config(args.config)
    days = args.days
    store = StateStore(cfg.state)
    try:
        ctx = RunContext(cfg=cfg, as_of=datetime.now(UTC), store=store, run_id="operator")
        add_outage(ctx, args.kind, args.message, days)
    finally:
        store.dispose()
    print(f"added {args.kind} entry to {cfg.publish}/OUTAGES.txt")
    return 0


def _synth(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.kind == "panel":
        from pipeline.panel.synth import generate_panel

        files = generate_panel(out, args.start, args.days, args.per_day, seed=args.seed)
    else:
        from pipeline.session.synth import generate_session

        files = generate_session(out, args.start, args.days, args.per_day, seed=args.seed)
    print(f"wrote {len(files)} file(s) to {out}")
    return 0


def _latest(args: argparse.Namespace) -> int:
    from pipeline.panel.latest import latest_text

    sftp = load_config(args.config).sftp if args.config else None
    frame = latest_text(args.loc, sftp)  # values exactly as published (3 stays 3, not 3.0)
    if args.out:
        frame.to_csv(args.out, index=False, na_rep="NA")
        print(f"{len(frame)} rows -> {args.out}")
    else:
        frame.to_csv(sys.stdout, index=False, na_rep="NA")
    return 0


def _idmap(args: argparse.Namespace) -> int:
    from pipeline.session.idmap import write_idmap

    rows = write_idmap(load_config(args.config), load_config(args.other), Path(args.out))
    print(f"{rows} shared children -> {args.out}")
    return 0
