"""The publish folder as researchers' own tools see it (SPEC §3.6): the survey's R helper
selects exactly the newest daily files, a flat SFTP download of the root passes
``sha256sum -c``, each subfolder checks on its own, and an older layout migrates.

The R helper (cmu-delphi/delphi-epidata, ``docs/symptom-survey/survey-utils.R``) is read
for its facts, not copied: it lists the folder (not recursively) by a regular expression
(default ``*.csv.gz$``; R's regex engine ignores the leading ``*``, leaving ``.csv.gz$``),
cuts each name at its first ``.``, splits it on ``_``, takes the ``for`` date from parts
3-5 and the ``recorded`` date from parts 7-9 (``as.Date`` of ``YYYY-mm-dd``: anything else
stops it), and keeps the newest ``recorded`` file of each ``for`` date.
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from pipeline import checksums
from pipeline.locations.local import LocalLocation
from pipeline.panel.latest import latest_text
from tests.exports import response, write_export
from tests.study import Study

FIRST = date(2021, 5, 26)
NIGHTS = 14  # past the May rollup (month end + the 4-day stabilization window)


def r_helper_selection(folder: Path, pattern: str) -> list[str]:
    """The files ``get_survey_df(folder, pattern)`` reads, as its code selects them."""
    regex = re.compile(pattern.lstrip("*"))
    newest: dict[date, tuple[date, str]] = {}
    for name in sorted(p.name for p in folder.iterdir()):  # list.files: files and folders
        if not regex.search(name):
            continue
        parts = name.split(".", 1)[0].split("_")
        # as.Date on anything but a date stops the helper: so must this
        day = date.fromisoformat("-".join(parts[2:5]))
        recorded = date.fromisoformat("-".join(parts[6:9]))
        if day not in newest or recorded > newest[day][0]:
            newest[day] = (recorded, name)
    return [name for _rec, name in newest.values()]


def _nights(study: Study) -> None:
    """Fourteen nights: each delivers the responses of the day before, one late row too."""
    for n in range(NIGHTS):
        day = FIRST + timedelta(days=n)
        rows = [
            response(f"R{n}_{i}", f"t{n}_{i}", f"{day} 1{i}:00:00", A3=f"0{i}123") for i in range(3)
        ]
        if n >= 2:  # a late response for two days back: that day is re-issued
            late = day - timedelta(days=2)
            rows.append(response(f"L{n}", f"late{n}", f"{late} 09:00:00", f"{day} 09:00:00"))
        write_export(study.drop, f"export_{n:02d}.csv", rows)
        assert study.run(f"{day + timedelta(days=1)}T12:00:00Z") == 0


def _rows(folder: Path, names: list[str]) -> pd.DataFrame:
    frames = []
    for name in names:
        data = (folder / name).read_bytes()
        data = gzip.decompress(data) if name.endswith(".gz") else data
        frames.append(pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize(
    ("gzip_daily", "pattern"), [(True, "*.csv.gz$"), (False, "[.]csv$")], ids=["gz", "csv"]
)
def test_the_r_helper_reads_exactly_the_newest_daily_files(tmp_path, gzip_daily, pattern):
    study = Study(tmp_path, options={"gzip_daily": gzip_daily})
    _nights(study)
    root = study.pub
    assert (root / "monthly" / "2021-05.csv.gz").exists()  # the rollup that broke the helper
    assert (root / "cumulative").is_dir() and (root / "docs" / "codebook.csv").exists()
    chosen = r_helper_selection(root, pattern)
    assert chosen and all("_recordedby_" in name for name in chosen)
    assert len(chosen) == NIGHTS  # one file per day, the newest
    latest = latest_text(str(root))
    got = _rows(root, chosen)
    assert len(got) == len(latest)
    key = list(latest.columns)
    assert sorted(got[key].fillna("NA").astype(str).agg("|".join, axis=1)) == sorted(
        latest[key].fillna("NA").astype(str).agg("|".join, axis=1)
    )
    # parquet/: one copy per day, of its newest content (re-issued days included)
    import pyarrow.parquet as pq

    for name in chosen:
        day = "-".join(name.split("_")[2:5])
        [copy] = list((root / "parquet" / f"day={day}").iterdir())
        assert pq.read_metadata(copy).num_rows == len(_rows(root, [name]))
    # among CSV names the root holds daily files only
    csvs = [p.name for p in root.iterdir() if p.name.endswith((".csv", ".csv.gz"))]
    assert csvs and all("_recordedby_" in name for name in csvs)


def _sha256sum_c(folder: Path, sums: str = "SHA256SUMS") -> int:
    return subprocess.run(["sha256sum", "-c", "--strict", "--quiet", sums], cwd=folder).returncode


def test_a_flat_sftp_download_of_the_root_checks(tmp_path, sshd):
    """``sftp get -p *`` of the root (real OpenSSH client and server) fetches the root's
    files (the folders it cannot fetch flat); ``sha256sum -c SHA256SUMS`` passes on that
    copy; each subfolder's own SHA256SUMS passes; parquet/'s sums are in the root."""
    study = Study(tmp_path / "study", publish=str(sshd.root / "publish"),
                  options={"gzip_daily": True})  # fmt: skip
    _nights(study)
    down = tmp_path / "download"
    down.mkdir()
    batch = tmp_path / "batch"
    # '-': sftp goes on past the folders, which a flat get cannot fetch
    batch.write_text(f"cd {sshd.root / 'publish'}\nlcd {down}\n-get -p *\n")
    cmd = ["sftp", "-b", str(batch), "-P", str(sshd.port), "-i", sshd.key_file,
           "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "StrictHostKeyChecking=yes",
           "-o", "BatchMode=yes", f"{sshd.user}@{sshd.host}"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (down / "OUTAGES.txt").exists() and not (down / "runs").exists()
    assert _sha256sum_c(down) == 0
    listed = (down / "SHA256SUMS").read_text()
    assert "runs/" not in listed and "cumulative/" not in listed and "parquet.SHA256SUMS" in listed
    pub = sshd.root / "publish"
    for folder in ("cumulative", "monthly", "docs", "runs"):
        assert _sha256sum_c(pub / folder) == 0, folder
    assert _sha256sum_c(pub, "parquet.SHA256SUMS") == 0
    assert not [p for p in (pub / "parquet").rglob("*") if p.is_file() and p.suffix != ".parquet"]


def test_an_older_layout_moves_to_subfolders_with_a_notice(tmp_path):
    """A deployment published before the subfolders: its cumulative file, rollups and
    codebook in the root. The next run moves them (rollups linked, not rebuilt), says so in
    OUTAGES.txt, and every SHA256SUMS checks; nothing is lost."""
    study = Study(tmp_path)
    _nights(study)
    root = study.pub
    loc = LocalLocation(root)
    # put the folder and the state back to the older layout (one SHA256SUMS for all)
    from pipeline.state.store import StateStore

    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    renames = {}
    for sub in ("cumulative", "monthly", "docs"):
        for p in (root / sub).iterdir():
            if p.name != "SHA256SUMS":
                renames[f"{sub}/{p.name}"] = p.name
                shutil.move(p, root / p.name)
        shutil.rmtree(root / sub)
    with store.engine.begin() as conn:
        for old, new in renames.items():
            conn.exec_driver_sql("UPDATE published_files SET name=? WHERE name=?", (new, old))
        conn.exec_driver_sql("UPDATE published_files SET removed=1 WHERE name LIKE '%/SHA256SUMS'")
    sums = {n: s for n, s in checksums.read(loc).items() if not checksums.is_sums(n)}
    sums = {renames.get(n, n): s for n, s in sums.items()}
    (root / "SHA256SUMS").write_text("".join(f"{s}  {n}\n" for n, s in sorted(sums.items())))
    for p in root.rglob("SHA256SUMS"):
        if p.parent != root:
            p.unlink()
    (root / "parquet.SHA256SUMS").unlink()
    rollup = (root / "2021-05.tar").read_bytes()
    store.dispose()
    assert _sha256sum_c(root) == 0  # the older layout checks as it was

    write_export(study.drop, "export_late.csv", [response("X1", "x1", "2021-06-08 10:00:00")])
    assert study.run("2021-06-10T12:00:00Z") == 0
    assert not [n for n in renames.values() if (root / n).exists()]
    assert (root / "monthly" / "2021-05.tar").read_bytes() == rollup  # moved, not rebuilt
    assert (root / "docs" / "codebook.csv").exists()
    assert "Files moved to subfolders" in (root / "OUTAGES.txt").read_text()
    assert _sha256sum_c(root) == 0
    for folder in ("cumulative", "monthly", "docs", "runs"):
        assert _sha256sum_c(root / folder) == 0, folder
    assert _sha256sum_c(root, "parquet.SHA256SUMS") == 0
    assert len(latest_text(str(root))) > 0  # `latest` reads the new layout


@pytest.mark.parametrize("reissue", ["all", "changed"])
def test_turning_gzip_daily_on_reissues_every_day_gzipped_once(tmp_path, reissue):
    """An existing deployment with plain .csv days (the seed's form) turns ``gzip_daily``
    on (the default now): every day is re-issued once as a real gzip file under its .csv.gz
    name (never plain bytes behind a .gz name), with one NOTICE; the content is unchanged,
    so the R helper's default pattern finds every day."""
    study = Study(tmp_path, options={"gzip_daily": False, "reissue": reissue,
                                     "stabilization_days": 0})  # fmt: skip
    for n, day in enumerate(("2021-06-01", "2021-06-02", "2021-06-03")):
        write_export(study.drop, f"e{n}.csv", [response(f"R{n}", f"t{n}", f"{day} 10:00:00")])
        assert study.run(f"{date.fromisoformat(day) + timedelta(days=1)}T12:00:00Z") == 0
    before = latest_text(str(study.pub))
    study.configure(gzip_daily=True)
    assert study.run("2021-06-05T12:00:00Z") == 0
    gz = sorted(p for p in study.pub.iterdir() if p.name.endswith(".csv.gz"))
    assert len(r_helper_selection(study.pub, "*.csv.gz$")) == 4  # 06-01 .. 06-04
    for p in gz:
        gzip.decompress(p.read_bytes())  # a real gzip file
    after = latest_text(str(study.pub))
    assert after.iloc[: len(before)].equals(before)
    outages = (study.pub / "OUTAGES.txt").read_text()
    assert outages.count("re-issued as .csv.gz (gzip_daily is now true)") == 1
    # the next night: nothing re-issued for the change again
    assert study.run("2021-06-06T12:00:00Z") == 0
    assert (study.pub / "OUTAGES.txt").read_text().count("gzip_daily is now true") == 1
