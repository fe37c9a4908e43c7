"""Stage 7, :mod:`pipeline.panel.stages.publish`: the files written, then the run's state
committed at once; unchanged days linked or left alone per ``reissue``."""

from __future__ import annotations

import gzip
import hashlib

from pipeline.panel.stages.publish import daily_names, ledger_changes, publish_and_commit
from pipeline.state.run_ledger import RunLedger
from tests.exports import response

NIGHT1, NIGHT2 = "2021-06-03T12:00:00Z", "2021-06-04T12:00:00Z"  # 06-02, 06-03 closed
D1 = "cvid_responses_2021_06_01_recordedby_2021_06_03.csv.gz"
D2 = "cvid_responses_2021_06_02_recordedby_2021_06_03.csv.gz"


def _publish(panel, clock: str, held_days=None, **kw):
    """Run through the days stage, then the stage under test."""
    ctx = panel.context(clock, **kw)
    s = panel.stages(ctx)
    res = publish_and_commit(ctx, s.fetch, s.norm, s.elig, s.delta, s.lag, s.build, held_days)
    return res, ctx, s


def _two_days(panel):
    panel.export("a.csv", [response("R1", "a", "2021-06-01 09:00:00"),
                           response("R2", "b", "2021-06-01 10:00:00"),
                           response("R3", "c", "2021-06-02 09:00:00")])  # fmt: skip


def _sums(panel) -> dict[str, str]:
    lines = (panel.pub / "SHA256SUMS").read_text().splitlines()
    return {name: sha for sha, name in (line.split("  ", 1) for line in lines)}


def test_first_publish_writes_the_files_and_commits(panel):
    _two_days(panel)
    assert panel.store.last_seq() == 0
    res, ctx, s = _publish(panel, NIGHT1)
    assert panel.store.last_seq() == 1  # committed
    manifest = f"runs/2021_06_03_{ctx.run_id}.json"
    parquet = sorted(n for n in res.written if n.startswith("parquet/day="))
    assert [n.split("/")[1] for n in parquet] == ["day=2021-06-01", "day=2021-06-02"]
    assert sorted(res.written) == sorted([
        D1, D2, "cumulative/cvid_responses_2021_06_01_-_2021_06_02.csv.gz", "docs/codebook.csv",
        "OUTAGES.txt", manifest, *parquet, "cumulative/SHA256SUMS", "docs/SHA256SUMS",
        "runs/SHA256SUMS", "parquet.SHA256SUMS", "SHA256SUMS",
    ])  # fmt: skip
    assert res.first_published == ["2021-06-01", "2021-06-02"] and res.linked == []
    assert (res.days_published, res.rows_published) == (2, 3)
    assert res.daily_counts == {"2021-06-01": 2, "2021-06-02": 1}
    for day, name in (("2021-06-01", D1), ("2021-06-02", D2)):
        data = (panel.pub / name).read_bytes()  # gzipped by default
        csv = ctx.csv_cache(s.build.rendered[day].csv_sha).read_bytes()
        assert gzip.decompress(data) == csv
        assert _sums(panel)[name] == hashlib.sha256(data).hexdigest()
        assert res.day_files[day].name == name
    # the state: days, ledger, CID lists
    days = panel.store.days()
    assert {d: (r["published_name"], r["rows"]) for d, r in days.items()} == {
        "2021-06-01": (D1, 2), "2021-06-02": (D2, 1),
    }  # fmt: skip
    ledger = panel.store.ledger_rows(["a", "b", "c"]).set_index("token")
    assert ledger["cid_day"].to_dict() == {"a": "2021-06-01", "b": "2021-06-01", "c": "2021-06-02"}
    assert not ledger["cid_pending"].astype(bool).any()
    assert panel.store.cid_list_days() == {"2021-06-01", "2021-06-02"}
    cid_list = panel.cids / "cvid_cids_full_response_00_00_2021_06_01_-_23_59_2021_06_01.csv"
    assert cid_list.read_text() == "a\nb\n"
    assert not ctx.run_dir.exists()  # the staging folder goes once committed


def test_unchanged_days_are_linked_with_reissue_all(panel):
    _two_days(panel)
    _publish(panel, NIGHT1)
    res, _, _ = _publish(panel, NIGHT2)  # nothing new; 06-03 closes, empty
    assert panel.store.last_seq() == 2
    again = ["cvid_responses_2021_06_01_recordedby_2021_06_04.csv.gz",
             "cvid_responses_2021_06_02_recordedby_2021_06_04.csv.gz"]  # fmt: skip
    assert sorted(res.linked) == again and res.reissued_days == []
    assert not [n for n in res.written if n.startswith(("cvid_responses_2021_06_01_r",
                                                        "cvid_responses_2021_06_02_r"))]  # fmt: skip
    for old, new in zip((D1, D2), again, strict=True):
        assert (panel.pub / new).stat().st_ino == (panel.pub / old).stat().st_ino
    assert res.first_published == ["2021-06-03"] and res.daily_counts["2021-06-03"] == 0
    assert "DELAY  for: 2021-06-03" in (panel.pub / "OUTAGES.txt").read_text()


def test_unchanged_days_outside_the_window_are_left_alone_with_reissue_changed(make_panel):
    panel = make_panel(reissue="changed", stabilization_days=0)
    _two_days(panel)
    _publish(panel, NIGHT1)
    res, _, _ = _publish(panel, NIGHT2)
    assert res.linked == [] and sorted(res.day_files) == ["2021-06-03"]
    assert panel.store.days()["2021-06-01"]["published_name"] == D1  # still the newest
    assert panel.store.last_seq() == 2  # committed all the same


def test_a_changed_day_is_written_again_and_the_old_version_stays(panel):
    _two_days(panel)
    _publish(panel, NIGHT1)
    old = (panel.pub / D2).read_bytes()
    panel.export("b.csv", [response("R0", "c", "2021-06-02 08:00:00", A1_1="9")])  # a swap
    res, _, s = _publish(panel, NIGHT2)
    assert s.delta.swaps == 1 and res.reissued_days == ["2021-06-02"]
    new = "cvid_responses_2021_06_02_recordedby_2021_06_04.csv.gz"
    assert new in res.written and b",9," in gzip.decompress((panel.pub / new).read_bytes())
    assert (panel.pub / D2).read_bytes() == old


def test_a_held_day_is_not_published_and_logged(panel):
    _two_days(panel)
    res, _, _ = _publish(panel, NIGHT1, held_days={"2021-06-02"})
    assert res.held_days == ["2021-06-02"] and D2 not in res.written and D1 in res.written
    assert not (panel.pub / D2).exists()
    assert "DELAY  for: 2021-06-02" in (panel.pub / "OUTAGES.txt").read_text()
    assert panel.store.days()["2021-06-02"].get("published_name") is None


def test_a_quarantined_export_is_named_in_outages(panel):
    _two_days(panel)
    (panel.drop / "broken.csv").write_bytes(b"not,an\nexport\n")
    res, _, _ = _publish(panel, NIGHT1)
    outages = (panel.pub / "OUTAGES.txt").read_text()
    assert "NOTICE" in outages and "Input file broken.csv was quarantined" in outages
    assert res.outages_added == 1


def test_a_rebuild_that_changes_nothing_publishes_nothing(panel):
    _two_days(panel)
    _publish(panel, NIGHT1)
    before = {p.name: p.stat().st_mtime_ns for p in panel.pub.rglob("*")}
    res, _, _ = _publish(panel, "2021-06-03T13:00:00Z", rebuild=True)
    assert res.written == [] and res.linked == [] and res.manifest == ""
    assert {p.name: p.stat().st_mtime_ns for p in panel.pub.rglob("*")} == before
    assert panel.store.last_seq() == 2  # the rebuilt state is committed


def test_ledger_changes_put_listed_tokens_on_their_list(panel):
    panel.export("a.csv", [response("R1", "a", "2021-06-01 09:00:00"),
                           response("R2", "open", "2021-06-02 01:00:00")])  # fmt: skip
    ctx = panel.context("2021-06-02T12:00:00Z")  # 06-02 is not closed
    s = panel.stages(ctx)
    others = ledger_changes(s.delta, s.lag)
    ledger = RunLedger(s.delta.ledger).select(["token", "cid_day", "cid_pending"], final=True)
    rows = {r["token"]: r for r in ledger.to_pylist()}
    assert (rows["a"]["cid_day"], rows["a"]["cid_pending"]) == ("2021-06-01", False)
    assert (rows["open"]["cid_day"], rows["open"]["cid_pending"]) == (None, True)  # waits
    assert others == {}
    publish_and_commit(ctx, s.fetch, s.norm, s.elig, s.delta, s.lag, s.build)
    # the next night brings nothing: the waiting token goes on 06-02's list from the state
    s = panel.stages(panel.context(NIGHT1))
    assert s.delta.parts == ()
    assert ledger_changes(s.delta, s.lag) == {"2021-06-02": ("open",)}


def test_daily_names_are_the_newest_and_todays(panel):
    _two_days(panel)
    _publish(panel, NIGHT1)
    ctx = panel.context(NIGHT2)
    assert sorted(daily_names(ctx, panel.store.days())) == sorted([
        D1, D2, "cvid_responses_2021_06_01_recordedby_2021_06_04.csv.gz",
        "cvid_responses_2021_06_02_recordedby_2021_06_04.csv.gz",
    ])  # fmt: skip
