"""The whole pipeline with its source and publish folders on a real OpenSSH sshd (SPEC §5, §6).

Each run goes through the CLI (the Dagster job, in-process), so these tests check what an
operator sees: the same published bytes as with local folders, idempotent ingest, server-side
hard links for re-issued days, and clean failures (host keys, passwords, a daemon killed
mid-transfer, names that try to leave the drop).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import checksums
from pipeline.locations import RemoteFile, UnsafePathError, open_location
from pipeline.locations.local import LocalLocation
from pipeline.locations.sftp import SftpLocation, transfer
from pipeline.panel.synth import generate_panel
from tests.exports import response, write_export
from tests.plugins.sshd_server import keygen
from tests.sftp_faults import Killer
from tests.study import Study
from tests.test_nights import night1, night2, night3

ROOT = Path(__file__).resolve().parents[1]
NIGHTS = [
    (night1, "2021-06-02T12:00:00Z"),
    (night2, "2021-06-03T12:00:00Z"),
    (night3, "2021-06-10T12:00:00Z"),
]
DAY = "cvid_responses_{}_recordedby_{}.csv"


# --------------------------------------------------------------------------- helpers


def _sftp_block(sshd, **overrides) -> dict:
    block = {
        "known_hosts": sshd.known_hosts, "key_file": sshd.key_file,
        "allow_unknown_hosts": False, "timeout": 10.0, "retries": 4,
    }  # fmt: skip
    block.update(overrides)
    return block


def sftp_study(
    root: Path, sshd, *, source: bool = True, publish: bool = True, cids: bool = True, **opts
) -> Study:
    """A study whose drop / publish / cid_out folders are (optionally) on the sshd.

    ``study.drop``, ``study.pub`` and ``study.cids`` point at the server's side of those
    folders (the sshd serves this machine's file system), so the scenario helpers of
    tests/test_nights.py write straight into the remote drop.
    """
    options = {"sftp": _sftp_block(sshd, **opts.pop("sftp", {})), **opts}
    if cids:
        options["cid_out"] = sshd.url("cids")
    study = Study(
        root,
        source=sshd.url("drop") if source else None,
        publish=sshd.url("publish") if publish else None,
        options=options,
    )
    if source:
        study.drop = sshd.root / "drop"
        study.drop.mkdir(exist_ok=True)
    if publish:
        study.pub = sshd.root / "publish"
    if cids:
        study.cids = sshd.root / "cids"
    return study


def _skipped(rel: str) -> bool:
    """Names whose content embeds run ids (compared separately) and dot-temp files."""
    name = rel.rsplit("/", 1)[-1]
    return rel.startswith("runs/") or rel == "SHA256SUMS" or name.startswith(".")


def tree_of(folder: Path) -> dict[str, bytes]:
    """Published files by relative name (no manifests, no SHA256SUMS, no dot-temp files)."""
    if not folder.exists():
        return {}
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and not _skipped(rel):
            out[rel] = p.read_bytes()
    return out


def _final_names(folder: Path) -> list[str]:
    """Every file at a final (non-dot) name, manifests and SHA256SUMS included."""
    if not folder.exists():
        return []
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if p.is_file()) if folder.exists() else []


def sums_of(folder: Path) -> dict[str, str]:
    """Every SHA256SUMS file's listing as name -> hash, without the run manifests (their
    content has run ids)."""
    listed = checksums.read(LocalLocation(folder))
    return {name: sha for name, sha in listed.items() if not name.startswith("runs/")}


def _manifest(study: Study) -> dict:
    """The newest run manifest (names sort by recorded date; ties by mtime)."""
    runs = sorted(
        (study.pub / "runs").glob("*.json"), key=lambda p: (p.name[:10], p.stat().st_mtime_ns)
    )
    return json.loads(runs[-1].read_text())


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    for needle in needles:
        assert needle in err, err
    return err


def _cli(study: Study, as_of: str) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline run`` in a child process (what an operator or cron sees)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PIPELINE_LOG_LEVEL", "PYTHONWARNINGS")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--config", str(study.config), "--as-of", as_of],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def _hook_progress(monkeypatch, url_suffix: str, callback) -> None:
    """Give every SftpLocation opened on ``...{url_suffix}`` this progress callback."""
    original = SftpLocation.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.url.endswith(url_suffix):
            self.progress = callback

    monkeypatch.setattr(SftpLocation, "__init__", init)


# --------------------------------------------------------------------------- (a) + (c)


def test_three_nights_over_sftp_publish_the_same_bytes_as_local_folders(tmp_path, sshd):
    local = Study(tmp_path / "local", options={"reissue": "all"})
    remote = sftp_study(tmp_path / "sftp", sshd, reissue="all")
    assert remote.pub == sshd.root / "publish" and "sftp://" in remote.config.read_text()
    for night, clock in NIGHTS:
        night(local)
        night(remote)
        assert local.run(clock) == 0
        assert remote.run(clock) == 0

    pub_local, pub_remote = tree_of(local.pub), tree_of(remote.pub)
    assert len(local.daily()) == 12
    assert sorted(pub_remote) == sorted(pub_local)
    for name, data in pub_local.items():
        assert pub_remote[name] == data, name
    assert _temps(remote.pub) == []
    assert len(list((remote.pub / "runs").glob("*.json"))) == 3

    # SHA256SUMS: the same files with the same hashes, and they match the bytes
    sums_local, sums_remote = sums_of(local.pub), sums_of(remote.pub)
    assert sums_remote == sums_local
    published = [n for n in pub_remote if "_recordedby_" in n or "_-_" in n]
    assert len(published) == 13  # 12 daily versions + the cumulative file (cumulative/)
    for name in published:
        assert sums_remote[name] == hashlib.sha256(pub_remote[name]).hexdigest()

    # CID lists written over SFTP too
    assert tree_of(remote.cids) == tree_of(local.cids) and len(tree_of(remote.cids)) == 9

    # (c) reissue: all re-issued the unchanged day 06-02 with the server's hard link
    first = remote.pub / DAY.format("2021_06_02", "2021_06_03")
    again = remote.pub / DAY.format("2021_06_02", "2021_06_10")
    assert first.stat().st_ino == again.stat().st_ino and again.stat().st_nlink == 2
    assert first.stat().st_mtime_ns == again.stat().st_mtime_ns
    night3 = _manifest(remote)
    assert night3["recorded"] == "2021-06-10"
    assert again.name in night3["reissued_by_link"]
    assert again.name not in night3["published"]
    # bytes were sent only for new content (link re-issues cost nothing)
    assert "runs/" not in " ".join(night3["published"])  # the manifest is written after
    sent = sum((remote.pub / n).stat().st_size for n in night3["published"])
    assert night3["bytes_uploaded"] == sent


# --------------------------------------------------------------------------- (b)


def test_ingest_over_sftp_is_idempotent(tmp_path, sshd):
    study = sftp_study(tmp_path, sshd, reissue="all")
    for night, clock in NIGHTS:
        night(study)
        assert study.run(clock) == 0
    daily = study.daily()
    before = {f: (study.pub / f).stat().st_mtime_ns for f in daily}
    cumulative = "cumulative/cvid_responses_2021_06_01_-_2021_06_09.csv.gz"
    cum_before = (study.pub / cumulative).stat()

    # nothing new: nothing downloaded, nothing re-sent, every daily file keeps its mtime
    assert study.run("2021-06-10T12:30:00Z") == 0
    m = _manifest(study)
    assert m["inputs"] == [] and m["rows_in"] == 0
    assert m["published"] == [] and m["reissued_by_link"] == [] and m["bytes_uploaded"] == 0
    assert study.daily() == daily
    assert {f: (study.pub / f).stat().st_mtime_ns for f in daily} == before
    assert (study.pub / cumulative).stat().st_mtime_ns == cum_before.st_mtime_ns
    sftp = open_location(sshd.url("publish"), sshd.sftp_config())
    try:  # what a researcher's SFTP client sees
        remote = {f.path: f for f in sftp.list_files()}
    finally:
        sftp.close()
    assert {f: int(remote[f].mtime) for f in daily} == {
        f: int(t // 10**9) for f, t in before.items()
    }

    # the same bytes again under a new name: recorded as a duplicate, not parsed
    shutil.copy(study.drop / "export_2021_06_10.csv", study.drop / "export_resent.csv")
    assert study.run("2021-06-10T13:00:00Z") == 0
    m = _manifest(study)
    assert [(i["path"], i["status"]) for i in m["inputs"]] == [("export_resent.csv", "duplicate")]
    assert m["rows_in"] == 0 and m["published"] == []
    assert {f: (study.pub / f).stat().st_mtime_ns for f in daily} == before

    # the same name with new bytes: ingested again, the changed day gets a new version
    write_export(study.drop, "export_2021_06_10.csv", [
        response("K0", "ok1", "2021-06-01 08:00:00", "2021-06-09 08:00:00", A1_1="5", UserLanguage="FR"),
        response("N9", "new9", "2021-06-09 10:00:00", "2021-06-09 10:05:00", UserLanguage="ES"),
    ])  # fmt: skip
    assert study.run("2021-06-11T12:00:00Z") == 0
    m = _manifest(study)
    assert [(i["path"], i["status"]) for i in m["inputs"]] == [("export_2021_06_10.csv", "applied")]
    new_day = DAY.format("2021_06_09", "2021_06_11")
    assert m["reissued_days"] == ["2021-06-09"] and new_day in m["published"]
    assert "2021-06-09 10:00:00" in study.text(new_day) and ",ES," in study.text(new_day)
    # every other day was re-issued by a server-side link, not sent again
    assert len(m["reissued_by_link"]) == 8
    first_day = DAY.format("2021_06_10", "2021_06_11")  # 06-10 closed: its first file
    assert sorted(n for n in m["published"] if "_recordedby_" in n) == [new_day, first_day]
    assert {f: (study.pub / f).stat().st_mtime_ns for f in daily} == before  # old versions


# --------------------------------------------------------------------------- (d) faults

GEN_START, GEN_DAYS, GEN_PER_DAY, GEN_SEED = "2021-06-01", 2, 3000, 7
GEN_CLOCK = "2021-06-08T12:00:00Z"  # every delivery is in, both days are closed
BIG_DAY = DAY.format("2021_06_02", "2021_06_08")  # the second day's file (the first goes first)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> tuple[dict[str, bytes], dict[str, str]]:
    """What a clean run with local folders publishes from the generated drop: (tree, sums)."""
    study = Study(tmp_path_factory.mktemp("clean"))
    generate_panel(study.drop, GEN_START, GEN_DAYS, GEN_PER_DAY, seed=GEN_SEED)
    assert study.run(GEN_CLOCK) == 0
    tree = tree_of(study.pub)
    assert len(tree[BIG_DAY]) > 6 * 64 * 1024  # several upload chunks (see the tests)
    return tree, sums_of(study.pub)


def _biggest_export(folder: Path) -> str:
    files = sorted(folder.iterdir())
    return max(files[:-1], key=lambda p: p.stat().st_size).name  # not the last one fetched


@pytest.mark.parametrize("mode", ["fail", "retry"])
def test_sshd_killed_mid_upload(tmp_path, sshd, clean_run, monkeypatch, capsys, mode):
    tree, sums = clean_run
    retries = 0 if mode == "fail" else 4
    study = sftp_study(tmp_path, sshd, source=False, cids=False, sftp={"retries": retries})
    generate_panel(study.drop, GEN_START, GEN_DAYS, GEN_PER_DAY, seed=GEN_SEED)
    monkeypatch.setattr(transfer, "CHUNK", 64 * 1024)  # progress reports every 64 KiB
    killer = Killer(sshd, path=BIG_DAY, downtime=None if mode == "fail" else 0.5)
    _hook_progress(monkeypatch, "/publish", killer.progress)
    try:
        rc = study.run(GEN_CLOCK)
    finally:
        killer.join()
    assert killer.killed.is_set() and len(killer.seen) >= 1
    if mode == "fail":
        assert rc == 1
        _one_line_error(capsys, "SftpRetryError", BIG_DAY)
        # no partial file: whatever sits at a final name is exactly what a clean run publishes
        assert BIG_DAY not in _final_names(study.pub)
        assert _final_names(study.pub) and set(_final_names(study.pub)) <= set(tree)
        for name in _final_names(study.pub):
            assert (study.pub / name).read_bytes() == tree[name], name
        sshd.start()
        monkeypatch.undo()
        assert study.run(GEN_CLOCK) == 0
    else:
        assert rc == 0
        assert _temps(study.pub) == []  # the retry removed the dead upload's temp file
    assert tree_of(study.pub) == tree
    assert sums_of(study.pub) == sums


@pytest.mark.parametrize("mode", ["fail", "retry"])
def test_sshd_killed_mid_download(tmp_path, sshd, clean_run, capsys, monkeypatch, mode):
    tree, sums = clean_run
    retries = 0 if mode == "fail" else 4
    study = sftp_study(tmp_path, sshd, publish=False, cids=False, sftp={"retries": retries})
    generate_panel(study.drop, GEN_START, GEN_DAYS, GEN_PER_DAY, seed=GEN_SEED)
    killer = Killer(
        sshd, path=_biggest_export(study.drop), downtime=None if mode == "fail" else 0.5
    )
    _hook_progress(monkeypatch, "/drop", killer.progress)
    try:
        rc = study.run(GEN_CLOCK)
    finally:
        killer.join()
    assert killer.killed.is_set()
    if mode == "fail":
        assert rc == 1
        _one_line_error(capsys, "SftpRetryError")
        assert _final_names(study.pub) == []  # nothing published
        archive = tmp_path / "archive"
        blobs = [p for p in archive.glob("??/*") if p.is_file() and not p.name.startswith(".")]
        assert blobs  # the files fetched before the kill are archived ...
        for blob in blobs:  # the archive holds whole files only
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
        sshd.start()
        monkeypatch.undo()
        assert study.run(GEN_CLOCK) == 0
    else:
        assert rc == 0
    assert tree_of(study.pub) == tree
    assert sums_of(study.pub) == sums


# --------------------------------------------------------------------------- host keys


def _other_key_line(sshd, tmp_path: Path, host: str | None = None) -> str:
    """A known_hosts line with a key that is not the server's (for its host, or another)."""
    pub = keygen(tmp_path / "other_host_key", "impostor").with_suffix(".pub").read_text()
    line = sshd.server.known_hosts_line(pub)
    return line if host is None else f"{host} {line.split(' ', 1)[1]}"


@pytest.mark.parametrize("problem", ["changed", "unknown"])
def test_wrong_or_unknown_host_key_is_refused(tmp_path, sshd, capsys, problem):
    bad = tmp_path / "known_hosts.bad"
    bad.write_text(_other_key_line(sshd, tmp_path, None if problem == "changed" else "example.org"))
    study = sftp_study(tmp_path, sshd, source=False, sftp={"known_hosts": str(bad)})
    night1(study)
    assert study.run("2021-06-02T12:00:00Z") == 1
    _one_line_error(
        capsys, "HostKeyError", "HOST KEY CHANGED" if problem == "changed" else "not in"
    )
    assert _final_names(study.pub) == [] and _final_names(study.cids) == []

    # allow_unknown_hosts (development only) lets an unknown host in, never a changed key
    study = sftp_study(
        tmp_path, sshd, source=False, sftp={"known_hosts": str(bad), "allow_unknown_hosts": True}
    )
    if problem == "changed":
        assert study.run("2021-06-02T12:00:00Z") == 1
        _one_line_error(capsys, "HostKeyError", "HOST KEY CHANGED")
        assert _final_names(study.pub) == []
        study = sftp_study(tmp_path, sshd, source=False)  # the right known_hosts
    assert study.run("2021-06-02T12:00:00Z") == 0
    assert study.daily() == [DAY.format("2021_06_01", "2021_06_02")]  # nothing was committed


def test_cli_process_refusing_a_changed_host_key_prints_one_line(tmp_path, sshd):
    bad = tmp_path / "known_hosts.bad"
    bad.write_text(_other_key_line(sshd, tmp_path))
    study = sftp_study(tmp_path, sshd, source=False, sftp={"known_hosts": str(bad)})
    night1(study)
    proc = _cli(study, "2021-06-02T12:00:00Z")
    assert proc.returncode == 1
    assert "HOST KEY CHANGED" in proc.stderr and _final_names(study.pub) == []
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: HostKeyError"), (
        proc.stderr
    )


def test_cli_process_with_the_server_down_prints_one_line_after_retrying(tmp_path, sshd):
    study = sftp_study(tmp_path, sshd, cids=False, sftp={"retries": 2})
    night1(study)
    sshd.stop()
    proc = _cli(study, "2021-06-02T12:00:00Z")
    assert proc.returncode == 1 and "SftpRetryError" in proc.stderr
    assert "failed after 3 attempt(s)" in proc.stderr  # it did retry
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr


# --------------------------------------------------------------------------- passwords


def test_bad_password_is_refused_and_the_right_one_works(
    tmp_path, sshd, sshd_password_user, capsys, monkeypatch
):
    user, password = sshd_password_user
    study = sftp_study(
        tmp_path, sshd, publish=False, cids=False,
        sftp={"key_file": None, "password_env": "PIPELINE_TEST_SFTP_PASSWORD"},
    )  # fmt: skip
    config = study.config.read_text().replace(sshd.url("drop"), sshd.url("drop", user=user))
    assert config != study.config.read_text()
    study.config.write_text(config)
    night1(study)
    monkeypatch.setenv("PIPELINE_TEST_SFTP_PASSWORD", password + "-wrong")
    started = time.monotonic()
    assert study.run("2021-06-02T12:00:00Z") == 1
    err = _one_line_error(capsys, "SftpAuthError", "authentication failed", user)
    assert password not in err
    assert time.monotonic() - started < 20  # refused at once, not retried with backoff
    assert _final_names(study.pub) == []

    monkeypatch.setenv("PIPELINE_TEST_SFTP_PASSWORD", password)
    assert study.run("2021-06-02T12:00:00Z") == 0
    assert study.daily() == [DAY.format("2021_06_01", "2021_06_02")]


# --------------------------------------------------------------------------- unsafe names


def test_remote_names_never_escape_the_drop(tmp_path, sshd, capsys, monkeypatch):
    study = sftp_study(tmp_path, sshd, publish=False, cids=False)
    night1(study)
    outside = sshd.root / "outside"
    secret = write_export(outside, "secret.csv", [
        response("X1", "outsider", "2021-06-01 12:34:56", UserLanguage="XX"),
    ])  # fmt: skip
    secret_sha = hashlib.sha256(secret.read_bytes()).hexdigest()
    (study.drop / "evil.csv").symlink_to(secret)  # a file symlink leading out
    (study.drop / "linked").symlink_to(outside, target_is_directory=True)  # a folder symlink
    (study.drop / "..\\outside\\secret.csv").write_bytes(secret.read_bytes())  # backslashes

    # the location itself refuses '..' and symlinks that lead outside its root
    loc = open_location(sshd.url("drop"), sshd.sftp_config())
    try:
        assert [f.path for f in loc.list_files()] == ["export_2021_06_02.csv"]
        for bad in ("../outside/secret.csv", "linked/../../outside/secret.csv", "evil.csv"):
            with pytest.raises(UnsafePathError):
                loc.read_bytes(bad)
    finally:
        loc.close()

    assert study.run("2021-06-02T12:00:00Z") == 0
    m = _manifest(study)
    assert [i["path"] for i in m["inputs"]] == ["export_2021_06_02.csv"]
    assert "12:34:56" not in study.text(DAY.format("2021_06_01", "2021_06_02"))
    assert not (tmp_path / "archive" / secret_sha[:2] / secret_sha).exists()

    # a server that lists a '..' name anyway: the run's fetch refuses to read it and skips
    # it with a NOTICE (the night goes on); nothing escapes
    original = SftpLocation.list_files

    def listing(self):
        st = secret.stat()
        return [*original(self), RemoteFile("../outside/secret.csv", st.st_size, st.st_mtime)]

    monkeypatch.setattr(SftpLocation, "list_files", listing)
    write_export(
        study.drop, "export_2021_06_03.csv", [response("K2", "ok2", "2021-06-02 09:00:00")]
    )
    assert study.run("2021-06-03T12:00:00Z") == 0
    assert not (tmp_path / "archive" / secret_sha[:2] / secret_sha).exists()
    assert DAY.format("2021_06_02", "2021_06_03") in study.daily()
    notices = [line for line in study.text("OUTAGES.txt").splitlines() if "secret.csv" in line]
    assert notices and all("not read" in n or "cannot be read" in n for n in notices)
    assert "12:34:56" not in study.text("OUTAGES.txt")


def test_latest_loads_the_newest_versions_over_sftp(tmp_path, sshd, capsys):
    from pipeline.config import SftpConfig
    from pipeline.panel.latest import load_latest

    study = sftp_study(tmp_path, sshd, cids=False)
    night1(study)
    assert study.run("2021-06-02T12:00:00Z") == 0
    night2(study)
    assert study.run("2021-06-03T12:00:00Z") == 0
    block = _sftp_block(sshd)
    remote = load_latest(sshd.url("publish"), SftpConfig(**block))
    local = load_latest(str(study.pub))
    assert len(remote) == 3 and remote.equals(local)
    # and the command line, with the credentials from the study's config file
    from pipeline.cli import main

    out = tmp_path / "latest.csv"
    args = ["latest", sshd.url("publish"), "--config", str(study.config), "--out", str(out)]
    assert main(args) == 0
    assert out.read_text().count("\n") == 4  # header + 3 rows
