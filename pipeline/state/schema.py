"""Tables of the pipeline's own state database (SQLAlchemy Core; SQLite or PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Every raw file ever seen on a source, identified by path, size, mtime and content hash.
ingested_files = sa.Table(
    "ingested_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("path", sa.String, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime", sa.Float, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String, nullable=False),  # export | weights | consent | videos | records
    sa.Column("status", sa.String, nullable=False),  # applied | duplicate | quarantined | pending
    sa.Column("error", sa.Text),
    sa.Column("rows", sa.Integer),
    sa.Column(
        "layout", sa.JSON(none_as_null=True)
    ),  # {"key": wave sort key, "columns": [...], "questions": {...}}
    sa.Column("run_id", sa.String, nullable=False),
    sa.Column("seen_at", sa.String, nullable=False),
    sa.UniqueConstraint("source", "path", "size", "mtime", "sha256", name="uq_ingested_identity"),
)

# One row per token, forever: its earliest response and whether it may be published.
ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("token", sa.String, primary_key=True),
    sa.Column("response_id", sa.String, nullable=False),
    sa.Column("start", sa.BigInteger, nullable=False),
    sa.Column("recorded", sa.BigInteger, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),  # `for` date of the winner
    sa.Column("eligible", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String),
    # on time (weight-eligible, SPEC §3.5): the first `for` day of a response of this token
    # that was recorded by that day's cut-off; decides the CID lists (and publication when
    # no weights source is configured)
    sa.Column("on_time_day", sa.String(10)),
    sa.Column("cid_day", sa.String(10)),  # the CID list it went on
    sa.Column("cid_pending", sa.Boolean, nullable=False, server_default=sa.false()),
    # Few tokens wait for a CID list at any time: a partial index stays tiny.
    sa.Index(
        "ix_ledger_cid_pending",
        "cid_pending",
        sqlite_where=sa.text("cid_pending"),
        postgresql_where=sa.text("cid_pending"),
    ),
    sqlite_with_rowid=False,  # the token is the key: one B-tree instead of two
)

# The current content of each `for` day and what was last published for it.
days = sa.Table(
    "days",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("store", sa.String),  # day-store parquet (relative to the work folder)
    sa.Column("rows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("csv_sha", sa.String(64)),  # sha256 of the rendered daily CSV
    sa.Column("render_key", sa.String(64)),  # what shaped that rendering (see panel.render)
    sa.Column("published_name", sa.String),
    sa.Column("published_recorded", sa.String(10)),
    sa.Column("changed_recorded", sa.String(10)),
    # The day's content changed after today's version was published: a published name never
    # gets other bytes, so the next run renders and re-issues it under its own date.
    sa.Column("stale", sa.Boolean, nullable=False, server_default=sa.false()),
)

published_files = sa.Table(
    "published_files",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("day", sa.String(10)),
    sa.Column("recorded", sa.String(10)),
    sa.Column("run_id", sa.String, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
)

outages = sa.Table(
    "outages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created", sa.String, nullable=False),  # ISO timestamp, study time zone
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("days", sa.String, nullable=False, server_default=""),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("run_id", sa.String),
)

weights = sa.Table(
    "weights",
    metadata,
    sa.Column("cid", sa.String, primary_key=True),
    sa.Column("weight", sa.String, nullable=False),
    sa.Column("file", sa.String, nullable=False),
)

cid_lists = sa.Table(
    "cid_lists",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String, nullable=False),
)

# Settings the derived state was built with (key "settings": JSON), see panel.settings.
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("value", sa.JSON),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False, index=True),
    sa.Column("as_of", sa.String, nullable=False),
    sa.Column("recorded", sa.String(10), nullable=False),
    sa.Column("summary", sa.JSON),
)
