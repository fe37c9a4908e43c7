"""Input is bounded (issue 28): an export over a limit is quarantined quickly, with a
one-line reason naming the file and the setting, and never parsed again; a drop file that
cannot (or must not) be read is skipped with a warning and a NOTICE while the others go
through; names are shown escaped; killed writes leave no temp file in ``_work/``.

Every night is a real ``python -m pipeline run`` in a child process (a hang or a memory
blow-up fails the test instead of the test run), on real files.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from tests.exports import BASE_COLUMNS, export_bytes, response, write_export
from tests.plugins.services import missing_service
from tests.study import Study

ROOT = Path(__file__).resolve().parents[1]
NIGHT1, NIGHT2, NIGHT3 = "2021-06-02T12:00:00Z", "2021-06-03T12:00:00Z", "2021-06-04T12:00:00Z"
DAY = "cvid_responses_2021_06_01_recordedby_2021_06_02.csv"

IP, RID, TOKEN = "198.51.100.77", "R_LimitsPlanted01", "tok-LIMITS-5ec2e7"
SECRETS = (IP, RID, TOKEN)
COLUMNS = [*BASE_COLUMNS[:3], "IPAddress", *BASE_COLUMNS[3:]]
# The child reports its own peak memory (kB) on its last stderr line.
_MEASURED = (
    "import resource, sys\n"
    "from pipeline.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(f'PEAK_RSS_KB {peak}', file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def _night(
    study: Study, as_of: str, prefix: tuple[str, ...] = (), timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """One nightly run of ``study`` in a child process, logging warnings to stderr."""
    cmd = [*prefix, sys.executable, "-c", _MEASURED, "run", "--config", str(study.config),
           "--as-of", as_of]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["PIPELINE_LOG_LEVEL"] = "WARNING"
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def _peak_mb(proc: subprocess.CompletedProcess[str]) -> float:
    line = [x for x in proc.stderr.splitlines() if x.startswith("PEAK_RSS_KB ")][-1]
    return int(line.split()[1]) / 1024


def _good(study: Study) -> None:
    write_export(study.drop, "good.csv", [
        response("K1", "ok1", "2021-06-01 09:00:00", IPAddress="192.0.2.1"),
        response("K2", "ok2", "2021-06-01 10:00:00", IPAddress="192.0.2.2"),
    ], columns=COLUMNS)  # fmt: skip


def _planted(**answers: str) -> dict[str, str]:
    return response(RID, TOKEN, "2021-06-01 11:00:00", IPAddress=IP, **answers)


def _notices(study: Study) -> list[str]:
    """The NOTICE messages of OUTAGES.txt (each entry's message is its second line)."""
    lines = study.text("OUTAGES.txt").splitlines()
    return [lines[i + 1].strip() for i, x in enumerate(lines) if "  NOTICE  " in x]


def _errors(tmp_path: Path) -> dict[str, str]:
    """The quarantine's ``.error.txt`` files by name."""
    folder = tmp_path / "archive" / "quarantine"
    return {p.name: p.read_text() for p in folder.glob("*.error.txt")}


def _manifests(study: Study) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((study.pub / "runs").glob("*.json"))]


def _published_text(path: Path) -> str:
    """A published file's content as text: gzip inflated, Parquet values written out."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return repr(pq.read_table(path).to_pylist())
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    if path.suffix == ".tar":
        return data.decode("utf-8", "replace")
    return data.decode()


def _assert_private(study: Study, tmp_path: Path, *procs: subprocess.CompletedProcess[str]):
    """Nothing said or published quotes the planted respondent data."""
    texts = [p.stdout + p.stderr for p in procs] + list(_errors(tmp_path).values())
    texts += [_published_text(p) for p in study.pub.rglob("*") if p.is_file()]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_an_export_with_100000_columns_is_quarantined_quickly_and_never_parsed_again(tmp_path):
    study = Study(tmp_path)
    _good(study)
    columns = [*COLUMNS, *(f"X{i}" for i in range(100_000))]
    extra = {f"X{i}": "1" for i in range(0, 100_000, 3)}
    rows = [_planted(**extra), _planted(**extra), _planted(**extra)]
    wide = export_bytes(rows, columns=columns)
    assert 3_000_000 < len(wide) < 8_000_000
    (study.drop / "wide.csv").write_bytes(wide)

    started = time.monotonic()
    first = _night(study, NIGHT1)
    assert first.returncode == 0, first.stderr[-3000:]
    assert time.monotonic() - started < 90  # was more than 10 minutes
    reason = f"wide.csv, line 1: too many columns: {len(columns)}, more than 5000 (max_columns)"
    assert list(_errors(tmp_path).values()) == [reason + "\n"]  # one line, file and limit
    assert _notices(study) == [f"Input file wide.csv was quarantined and not used: {reason}"]
    assert "09:00:00" in study.text(DAY)  # the night went on without it
    assert _manifests(study)[-1]["quarantined"] == ["wide.csv"]

    # the next nights: not fetched again (known by path, size, mtime), and delivered again
    # (a new mtime) the same bytes are a duplicate: never parsed again
    second = _night(study, NIGHT2)
    assert second.returncode == 0, second.stderr[-3000:]
    assert [i["path"] for i in _manifests(study)[-1]["inputs"]] == []
    os.utime(study.drop / "wide.csv", (time.time() + 60, time.time() + 60))
    third = _night(study, NIGHT3)
    assert third.returncode == 0, third.stderr[-3000:]
    manifest = _manifests(study)[-1]
    assert manifest["inputs"] == [
        {"path": "wide.csv", "sha256": manifest["inputs"][0]["sha256"], "size": len(wide),
         "status": "duplicate"},
    ]  # fmt: skip
    assert manifest["quarantined"] == [] and len(_notices(study)) == 1
    assert not (tmp_path / "archive" / "_work" / "runs").exists() or not any(
        (tmp_path / "archive" / "_work" / "runs").iterdir()
    )  # no staging folder left behind
    _assert_private(study, tmp_path, first, second, third)


def _write_bomb(path: Path, header: bytes, zeros: int) -> None:
    """``header`` then ``zeros`` NUL bytes, gzipped as it is written (never in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    with path.open("wb") as fh:
        fh.write(packer.compress(header))
        for _ in range(zeros >> 20):
            fh.write(packer.compress(block))
        fh.write(packer.flush())


def test_a_gzip_bomb_is_stopped_while_inflating_with_memory_far_below_its_size(tmp_path):
    study = Study(tmp_path)
    _good(study)
    size = 2 << 30  # 2 GiB of zeros: about 2 MB gzipped
    bomb = study.drop / "bomb.csv.gz"
    _write_bomb(bomb, export_bytes([_planted()], columns=COLUMNS), size)
    packed = bomb.stat().st_size
    assert packed < 3_000_000

    started = time.monotonic()
    proc = _night(study, NIGHT1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert time.monotonic() - started < 90  # was 157 s
    assert _peak_mb(proc) < 1024  # the whole run, well below the 2 GiB it expands to
    reason = (
        f"bomb.csv.gz: too large: expands more than 100 times its {packed} compressed bytes "
        "(max_compression_ratio)"
    )
    assert list(_errors(tmp_path).values()) == [reason + "\n"]
    assert _notices(study) == [f"Input file bomb.csv.gz was quarantined and not used: {reason}"]
    assert "09:00:00" in study.text(DAY)
    _assert_private(study, tmp_path, proc)


def test_exports_over_max_export_bytes_are_quarantined_plain_or_gzipped(tmp_path):
    study = Study(tmp_path, options={"max_export_bytes": 50_000})
    _good(study)
    rows = [response(f"R{i}", f"t{i}", "2021-06-01 12:00:00", IPAddress=IP) for i in range(600)]
    big = export_bytes(rows, columns=COLUMNS)
    assert 50_000 < len(big) < 200_000
    (study.drop / "big.csv").write_bytes(big)
    (study.drop / "big2.csv.gz").write_bytes(gzip.compress(big + b"\n"))
    proc = _night(study, NIGHT1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(_errors(tmp_path).values()) == [
        f"big.csv: too large: {len(big)} bytes, more than 50000 (max_export_bytes)\n",
        "big2.csv.gz: too large: expands to more than 50000 bytes (max_export_bytes)\n",
    ]
    assert len(_notices(study)) == 2 and "t1," not in study.text(DAY)
    _assert_private(study, tmp_path, proc)


def test_a_20_mb_cell_is_reported_as_cell_too_long_with_line_and_column(tmp_path):
    study = Study(tmp_path)
    _good(study)
    huge = TOKEN + "x" * 20_000_000
    # one 20 MB cell: Arrow reads it, the cell check finds it
    (study.drop / "one.csv").write_bytes(
        export_bytes([_planted(), _planted(B2_14_TEXT=huge)], columns=COLUMNS)
    )
    # two in one row: Arrow's reader trips on the row (larger than its block) first
    (study.drop / "two.csv").write_bytes(
        export_bytes([_planted(), _planted(A3=huge, B2_14_TEXT=huge)], columns=COLUMNS)
    )
    proc = _night(study, NIGHT1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = len(COLUMNS) + 5  # the second data row (each question text holds a newline)
    tail = "cell too long: more than 32767 characters (max_cell_chars)"
    assert sorted(_errors(tmp_path).values()) == [
        f"one.csv, line {line}, column B2_14_TEXT: {tail}\n",
        f"two.csv, line {line}, column A3: {tail}\n",
    ]
    assert "malformed" not in study.text("OUTAGES.txt")
    assert "09:00:00" in study.text(DAY)
    _assert_private(study, tmp_path, proc)


def _without_read_override() -> tuple[str, ...] | None:
    """A command prefix under which a mode-000 file really cannot be read: none needed for
    a user other than root; for root, ``setpriv`` dropping the two capabilities that let
    root read any file (root keeps its uid, so it still reads what it owns and may read).
    None when neither is possible."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        return None
    caps = "-dac_override,-dac_read_search"
    prefix = ("setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--")
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


def test_an_unreadable_drop_file_is_skipped_with_a_notice_and_read_when_it_can_be(tmp_path):
    prefix = _without_read_override()
    if prefix is None:
        # The test needs a real unreadable file: as root that takes setpriv (util-linux).
        # Without it this is a missing service: CI (PIPELINE_REQUIRE_SERVICES) fails here.
        missing_service("root cannot drop CAP_DAC_OVERRIDE here (no setpriv)")
    study = Study(tmp_path)
    _good(study)
    locked = write_export(study.drop, "locked.csv", [
        response("K3", "ok3", "2021-06-01 11:00:00", IPAddress="192.0.2.3"),
    ], columns=COLUMNS)  # fmt: skip
    locked.chmod(0)

    first = _night(study, NIGHT1, prefix)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "skipping 'locked.csv': cannot be read (Permission denied)" in first.stderr
    notice = (
        "Input file locked.csv was skipped and not used: locked.csv: cannot be read "
        "(Permission denied); the next run tries it again"
    )
    assert _notices(study) == [notice]
    assert "09:00:00" in study.text(DAY) and "11:00:00" not in study.text(DAY)
    manifest = _manifests(study)[-1]
    assert [i["path"] for i in manifest["inputs"]] == ["good.csv"]  # not recorded as seen
    assert manifest["quarantined"] == ["locked.csv"]
    assert not (tmp_path / "archive" / "quarantine").exists()

    second = _night(study, NIGHT2, prefix)  # still unreadable: tried, warned, no new NOTICE
    assert second.returncode == 0, second.stderr[-3000:]
    assert "skipping 'locked.csv'" in second.stderr and _notices(study) == [notice]

    locked.chmod(0o644)  # fixed: the next night reads it
    third = _night(study, NIGHT3, prefix)
    assert third.returncode == 0, third.stderr[-3000:]
    assert [i["path"] for i in _manifests(study)[-1]["inputs"]] == ["locked.csv"]
    day = next(
        n for n in study.daily() if n.startswith("cvid_responses_2021_06_01_recordedby_2021_06_04")
    )
    assert "11:00:00" in study.text(day)


def test_a_hidden_export_name_is_warned_about_and_named_in_a_notice(tmp_path):
    study = Study(tmp_path)
    _good(study)
    write_export(study.drop, "..something.csv", [_planted()], columns=COLUMNS)
    (study.drop / ".good.csv.0123456789ab.tmp").write_bytes(b"an upload of ours, half done")
    proc = _night(study, NIGHT1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reason = "name starts with '.' (hidden, or an upload in progress)"
    assert f"skipping '..something.csv': {reason}" in proc.stderr
    assert _notices(study) == [
        f"Input file ..something.csv was skipped and not used: ..something.csv: {reason}: not read"
    ]
    assert _manifests(study)[-1]["quarantined"] == ["..something.csv"]
    assert "tmp" not in study.text("OUTAGES.txt")  # temp names are no input
    _assert_private(study, tmp_path, proc)


def test_a_newline_in_a_file_name_is_shown_escaped_on_one_line(tmp_path):
    study = Study(tmp_path)
    _good(study)
    bad = export_bytes([_planted()], columns=COLUMNS) + b"one,two\n"  # a ragged row
    (study.drop / "bad\nname.csv").write_bytes(bad)
    write_export(study.drop, ".hidden\nname.csv", [_planted()], columns=COLUMNS)
    proc = _night(study, NIGHT1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outages = study.text("OUTAGES.txt")
    for text in (proc.stderr, outages, *_errors(tmp_path).values()):
        for line in text.splitlines():
            assert not line.startswith("name.csv"), line  # no name split over two lines
    notices = sorted(_notices(study))
    assert notices[0].startswith("Input file '.hidden\\nname.csv' was skipped and not used:")
    assert notices[1].startswith(
        "Input file 'bad\\nname.csv' was quarantined and not used: 'bad\\nname.csv', line "
    )
    assert "skipping '.hidden\\nname.csv'" in proc.stderr
    assert "quarantined file: 'bad\\nname.csv', line" in proc.stderr  # the run's WARNING
    _assert_private(study, tmp_path, proc)


def test_temp_files_of_killed_writes_do_not_stay_in_the_work_folder(tmp_path):
    study = Study(tmp_path)
    _good(study)
    assert _night(study, NIGHT1).returncode == 0
    work = tmp_path / "archive" / "_work"
    assert not [p for p in work.rglob("*.tmp")]  # a run leaves none
    # what killed runs leave: empty temp files of the cache, a day store, a step result
    stale = [
        work / "csv" / "ab" / f".{'ab' * 32}.csv.{'0' * 32}.tmp",
        work / "gz" / "cd" / f".{'cd' * 32}.gz.{'1' * 32}.tmp",
        work / "days" / "2021-06-01" / ".some-run.arrow.tmp",
        work / "runs" / "dead-run" / "steps" / ".k3j4h5g6.tmp",
    ]
    old = time.time() - 2 * 3600
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        os.utime(path, (old, old))
    live = work / "csv" / "ef" / f".{'ef' * 32}.csv.{'2' * 32}.tmp"  # a parallel run's
    live.parent.mkdir(parents=True, exist_ok=True)
    live.write_bytes(b"being written")
    write_export(study.drop, "more.csv", [
        response("K4", "ok4", "2021-06-02 09:00:00", IPAddress="192.0.2.4"),
    ], columns=COLUMNS)  # fmt: skip
    assert _night(study, NIGHT2).returncode == 0
    assert [p for p in work.rglob("*.tmp")] == [live]
    assert not [p for p in work.rglob("*") if p.is_file() and p.stat().st_size == 0]


def test_gunzip_bounds_its_output_while_inflating():
    """pipeline.limits.gunzip: the same bytes as gzip for every member; a limit passed by a
    single byte stops it; damage names the lines read before it."""
    from pipeline.limits import RATIO_FLOOR, InflateError, gunzip

    data = export_bytes([response(f"R{i}", f"t{i}", "2021-06-01 12:00:00") for i in range(300)])
    two = gzip.compress(data[:5000]) + gzip.compress(data[5000:], compresslevel=1)
    assert gunzip(two, len(data), 100) == data == gzip.decompress(two)
    with pytest.raises(InflateError, match=r"more than 1000 bytes \(max_export_bytes\)") as err:
        gunzip(two, 1000, 100)
    assert err.value.limit == "max_export_bytes"
    with pytest.raises(InflateError, match="max_export_bytes"):
        gunzip(two, len(data) - 1, 100)  # one byte over
    assert gunzip(gzip.compress(data), len(data), 1) == data  # small: the ratio is not judged
    zeros = gzip.compress(bytes(RATIO_FLOOR + (8 << 20)), compresslevel=9)
    with pytest.raises(InflateError, match="max_compression_ratio") as err:
        gunzip(zeros, 1 << 30, 100)
    assert err.value.limit == "max_compression_ratio"
    assert len(gunzip(zeros, 1 << 30, 2000)) == RATIO_FLOOR + (8 << 20)
    packed = gzip.compress(data)
    with pytest.raises(InflateError, match="truncated") as err:
        gunzip(packed[: len(packed) // 2], 1 << 30, 100)
    assert err.value.limit is None and 0 < err.value.lines < data.count(b"\n")
    for junk in (b"not gzip", packed + b"\x00\x00trailing"):
        with pytest.raises(InflateError, match="corrupt"):
            gunzip(junk, 1 << 30, 100)
    assert gunzip(b"", 10, 1) == b""
