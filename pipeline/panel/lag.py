"""The lag policy's rules (SPEC §3.5), pure functions over Arrow tables.

One name for one concept: a response is **on time** when it was recorded by the cut-off
of its `for` day (:func:`pipeline.clock.on_time`); a token is on time from the first day
one of its responses was (the ledger's ``on_time_day``; the SPEC's "weight-eligible").
Once on time, always on time. The cut-off rule decides the CID lists; with a weights
source, the weights decide publication.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.panel.collisions import first_rows
from pipeline.panel.qualtrics import TOKEN

ON_TIME = "_on_time"  # day-store column: the token is on time


def publishable(stored: pa.Table, weights: pa.Table | None, at: pa.Array | None = None) -> pa.Array:
    """Which of a day's stored (eligible, winning) responses are published.

    With a weights source (``weights``: the ``cid`` and ``weight`` of the day's tokens that
    have one): exactly those whose token has a weight, however late they were recorded; the
    partner applied the cut-off when it made the weights. Without one (None): those on
    time. ``at``: each row's position in ``weights`` (``pc.index_in`` of the tokens), when
    the caller has it.
    """
    if weights is None:
        return stored.column(ON_TIME).combine_chunks()
    if at is not None:
        return pc.is_valid(at)
    known = weights.column("cid").combine_chunks()
    return pc.is_in(stored.column(TOKEN), value_set=known).combine_chunks()


def first_weights(tables: list[pa.Table]) -> pa.Table:
    """One weight per cid from weights files given in file-name order (``cid, weight,
    file``): the file that sorts first by name wins."""
    return first_rows(pa.concat_tables(tables), "cid")


def improves(new: pa.Table, stored: pa.Table) -> pa.Array:
    """Which of the ``new`` weights replace the ``stored`` ones (both ``cid, weight,
    file``): all but those whose stored weight comes from an earlier (or the same) file."""
    idx = pc.index_in(new.column("cid"), value_set=stored.column("cid"))
    stored_file = pc.take(stored.column("file"), idx)
    return pc.fill_null(pc.less(new.column("file"), stored_file), True)


def cid_list_days(pending: pa.Table, due: list[str], last_closed: str) -> pa.Table:
    """The CID lists now due (``due``: their days, ascending), as ``day, token`` rows
    sorted by both, from the tokens not listed yet (``pending``: ``token, on_time_day``).

    A token goes on its own on-time day's list; when that list went out already (late
    data), on the newest list due. Tokens on time after ``last_closed`` wait.
    """
    closed = pending.filter(pc.less_equal(pending.column("on_time_day"), last_closed))
    own = closed.column("on_time_day")
    day = pc.if_else(pc.is_in(own, value_set=pa.array(due, pa.string())), own, due[-1])
    return pa.table({"day": day, "token": closed.column("token")}).sort_by(
        [("day", "ascending"), ("token", "ascending")]
    )
