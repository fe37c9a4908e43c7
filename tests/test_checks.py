"""The Great Expectations suites (pipeline/checks.py) and the checker process they run in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline import checks
from pipeline.panel.output import published_columns
from pipeline.staging import read_table, write_frame

QUESTIONS = ["A1", "A2"]
HEADER = published_columns(QUESTIONS)


def day(tokens, starts, weights=None) -> pa.Table:
    n = len(tokens)
    return pa.table({
        "_token": pa.array(tokens, pa.string()),
        "StartDatetime": pa.array(starts, pa.string()),
        "weight": pa.array(weights if weights is not None else [None] * n, pa.string()),
    })  # fmt: skip


def run(days, headers=None):
    return checks.check_days(days, QUESTIONS, headers or {d: HEADER for d in days})


def test_good_days_pass():
    out = run({
        "2021-06-01": day(["a", "b"], ["2021-06-01 00:00:00", "2021-06-01 23:59:59"], ["1", "2.5"]),
        "2021-06-02": day(["c"], ["2021-06-02 12:00:00"], ["0.1"]),
    })  # fmt: skip
    assert out.passed and out.failures == [] and out.evaluated == 3


def test_a_token_on_two_days_fails_both_days():
    out = run({
        "2021-06-01": day(["a", "b"], ["2021-06-01 09:00:00", "2021-06-01 10:00:00"]),
        "2021-06-02": day(["a"], ["2021-06-02 09:00:00"]),
        "2021-06-03": day(["z"], ["2021-06-03 09:00:00"]),
    })  # fmt: skip
    assert not out.passed
    assert any("expect_column_values_to_be_unique" in f for f in out.failures)
    assert out.failed_days == ["2021-06-01", "2021-06-02"]


def test_a_row_outside_its_day_fails_that_day():
    out = run({
        "2021-06-01": day(["a"], ["2021-06-01 09:00:00"]),
        "2021-06-02": day(["b"], ["2021-06-03 00:00:00"]),
    })  # fmt: skip
    assert not out.passed and out.failed_days == ["2021-06-02"]
    assert any("expect_column_pair_values_to_be_equal" in f for f in out.failures)


@pytest.mark.parametrize("start", [None, "not a time"])
def test_a_missing_or_unparseable_start_fails(start):
    out = run({"2021-06-01": day(["a", "b"], ["2021-06-01 09:00:00", start])})
    assert not out.passed and out.failed_days == ["2021-06-01"]


def test_day_check_frame_weights_missing_parsed_or_unparseable():
    import numpy as np

    frame, day_of_row = checks.day_check_frame({
        "2021-06-01": day(["a", "b", "c"], ["2021-06-01 01:00:00"] * 3, [None, "1.5", "heavy"]),
        "2021-06-02": day(["d"], ["2021-06-02 01:00:00"]),  # a study without weights
    })  # fmt: skip
    assert np.isnan(frame["_weight"][0]) and np.isnan(frame["_weight"][3])
    assert frame["_weight"][1:3].tolist() == [1.5, -1.0]
    assert day_of_row.tolist() == ["2021-06-01"] * 3 + ["2021-06-02"]


@pytest.mark.parametrize("weight", ["0", "-1", "heavy"])
def test_a_weight_that_is_not_positive_fails(weight):
    out = run({"2021-06-02": day(["a", "b"], ["2021-06-02 01:00:00"] * 2, ["1", weight])})
    assert not out.passed and out.failed_days == ["2021-06-02"]
    assert any("expect_column_values_to_be_between" in f for f in out.failures)


def test_a_missing_token_fails():
    out = run({"2021-06-01": day(["a", None], ["2021-06-01 09:00:00"] * 2)})
    assert not out.passed
    assert any("expect_column_values_to_not_be_null" in f for f in out.failures)


def test_a_wrong_header_fails_the_days_written_with_it():
    days = {"2021-06-01": day(["a"], ["2021-06-01 09:00:00"]),
            "2021-06-02": day(["b"], ["2021-06-02 09:00:00"])}  # fmt: skip
    headers = {"2021-06-01": HEADER, "2021-06-02": [*HEADER[:2], "token", *HEADER[2:]]}
    out = run(days, headers)
    assert not out.passed and out.failed_days == ["2021-06-02"]
    assert any("expect_table_columns_to_match_ordered_list" in f for f in out.failures)


def normalized(**overrides) -> pa.Table:
    cols = {
        "StartDate": ["2021-06-01 09:00:00"] * 4, "RecordedDate": ["2021-06-01 09:10:00"] * 4,
        "ResponseId": ["R1", "R2", "R3", "R4"], "_start": [1, 2, 3, 4],
        "_recorded": [5, 6, 7, 8], "_wave": [1, 1, None, 2],
    }  # fmt: skip
    cols.update(overrides)
    return pa.table({k: v for k, v in cols.items() if v is not None})


def test_normalized_batch_passes():
    out = checks.check_normalized(normalized())
    assert out.passed and out.evaluated == 4


@pytest.mark.parametrize(
    ("change", "expectation"),
    [
        ({"ResponseId": None}, "expect_column_to_exist"),
        ({"_start": [1, None, 3, 4]}, "expect_column_values_to_not_be_null"),
        ({"_wave": [None, None, None, 2]}, "expect_column_values_to_not_be_null"),
    ],
)
def test_normalized_batch_failures(change, expectation):
    out = checks.check_normalized(normalized(**change))
    assert not out.passed and any(expectation in f for f in out.failures)


@pytest.fixture
def with_processes(monkeypatch):
    """The checker process on, whatever the environment says."""
    monkeypatch.delenv(checks.NO_PROCESSES_ENV, raising=False)


def _checker_pid() -> int:
    checker = checks.checker()
    assert checker is not None
    return checker.submit(os.getpid).result()


def _bad_days(tmp_path) -> dict[str, str]:
    days = {
        "2021-06-01": day(["a", "a"], ["2021-06-01 09:00:00", "2021-06-02 09:00:00"], ["1", "0"])
    }
    return {d: write_frame(t, tmp_path / f"{d}.arrow") for d, t in days.items()}


def test_checker_process_gives_the_in_process_answer(tmp_path, monkeypatch, with_processes):
    files = _bad_days(tmp_path)
    batch = write_frame(normalized(_start=[1, None, 3, 4]), tmp_path / "batch.arrow")
    remote = checks.check_day_files(files, QUESTIONS, {d: HEADER for d in files})
    remote_batch = checks.check_normalized_file(batch)
    assert _checker_pid() != os.getpid()
    monkeypatch.setenv(checks.NO_PROCESSES_ENV, "1")
    assert checks.checker() is None and not checks.warm_up()
    local = checks.check_day_files(files, QUESTIONS, {d: HEADER for d in files})
    assert remote == local and not local.passed and len(local.failures) == 3
    assert remote_batch == checks.check_normalized_file(batch) and not remote_batch.passed


def _check_in_a_daemonic_process(files: dict[str, str]) -> tuple[bool, bool, bool, int]:
    import multiprocessing

    daemonic = multiprocessing.current_process().daemon
    warmed = checks.warm_up()
    out = checks.check_day_files(files, QUESTIONS, {d: HEADER for d in files})
    return daemonic, warmed, out.passed, len(multiprocessing.active_children())


def test_a_daemonic_process_checks_in_process(tmp_path, with_processes):
    """A Celery prefork worker runs steps in a daemonic process, which may not start a
    checker: its checks run in that process."""
    import multiprocessing

    files = _bad_days(tmp_path)
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # pool workers are daemonic
        daemonic, warmed, passed, children = pool.apply(_check_in_a_daemonic_process, (files,))
    assert daemonic and not warmed and not passed and children == 0


def test_errors_in_the_checker_are_raised_in_the_parent(tmp_path, with_processes):
    with pytest.raises(FileNotFoundError) as info:
        checks.check_normalized_file(str(tmp_path / "missing.arrow"))
    # the checker's traceback comes along
    assert "_check_normalized_file" in str(info.value.__cause__)


def test_a_checker_killed_during_a_check_falls_back_to_this_process(tmp_path, with_processes):
    files = _bad_days(tmp_path)
    headers = {d: HEADER for d in files}
    pid = _checker_pid()
    checker = checks.checker()
    assert checker is not None
    checker.submit(time.sleep, 60)  # keeps the checker busy: the check queues behind it
    killer = threading.Timer(2.0, os.kill, (pid, signal.SIGKILL))
    killer.start()
    t = time.perf_counter()
    out = checks.check_day_files(files, QUESTIONS, headers)
    assert time.perf_counter() - t < 50  # the check did not wait for the sleep
    here = checks.check_days({d: read_table(p) for d, p in files.items()}, QUESTIONS, headers)
    assert out == here and not out.passed
    assert _checker_pid() not in (pid, os.getpid())  # the next checks get a new checker


def test_a_checker_that_died_idle_is_replaced(tmp_path, with_processes):
    pid = _checker_pid()
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    files = {"2021-06-01": write_frame(day(["a"], ["2021-06-01 09:00:00"]), tmp_path / "d.arrow")}
    assert checks.check_day_files(files, QUESTIONS, {"2021-06-01": HEADER}).passed
    assert _checker_pid() not in (pid, os.getpid())


def test_a_stopped_checker_exits_and_a_later_check_starts_another(tmp_path, with_processes):
    """The command line starts the checker first and stops it when the run has nothing to
    check; should a check come after all, a new checker answers it."""
    pid = _checker_pid()
    checks.stop_checker()
    _wait_gone(pid)
    checks.stop_checker()  # none running: nothing to do
    files = {"2021-06-01": write_frame(day(["a"], ["2021-06-01 09:00:00"]), tmp_path / "d.arrow")}
    assert checks.check_day_files(files, QUESTIONS, {"2021-06-01": HEADER}).passed
    assert _checker_pid() not in (pid, os.getpid())


def _wait_gone(pid: int, timeout: float = 30) -> None:
    """Until ``pid`` has exited (gone, or a zombie nobody has reaped yet)."""
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except FileNotFoundError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still running after {timeout} s")


PARENT = """
import sys, threading, time
from pipeline import checks

print("loaded", __name__, flush=True)  # a spawned checker runs a script's top level again


def main():
    if sys.argv[4] == "spawn":  # a process with another thread spawns its checker
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
    if sys.argv[3] == "warm-up":
        checks.warm_up()  # the parent exits while the checker imports Great Expectations
    else:
        day = {"2021-06-01": sys.argv[1]}
        print(checks.check_day_files(day, ["A1", "A2"], {"2021-06-01": sys.argv[2].split(",")}))
        print("gx here:", "great_expectations" in sys.modules)  # the suites ran elsewhere
    print("done", flush=True)
    if sys.argv[3] == "killed":
        time.sleep(60)
    else:
        sys.stdin.read()  # exit once the test has seen the checker (the test closes stdin)


if __name__ == "__main__":
    main()
"""


def _descendants(root: int) -> set[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


@pytest.mark.parametrize(
    ("end", "start"),
    [("exit", "fork"), ("warm-up", "fork"), ("killed", "fork"), ("exit", "spawn"),
     ("killed", "spawn")],
)  # fmt: skip
def test_the_checker_ends_with_its_parent(tmp_path, end, start):
    """A script started by path (what spawn's re-import of ``__main__`` affects) runs a
    check in the checker, forked while the script has one thread, spawned otherwise; no
    process of it is left once the script exits (even while the checker imports for a
    warm-up) or is killed."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(PARENT))
    data = write_frame(day(["a"], ["2021-06-01 09:00:00"], ["1"]), tmp_path / "d.arrow")
    env = dict(os.environ, PYTHONPATH=str(Path(checks.__file__).parent.parent))
    env.pop(checks.NO_PROCESSES_ENV, None)
    with open(tmp_path / "stderr.txt", "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(script), data, ",".join(HEADER), end, start],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
        )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    lines = []
    while not lines or lines[-1] not in ("done\n", ""):
        lines.append(proc.stdout.readline())
    assert lines[-1] == "done\n", (lines, (tmp_path / "stderr.txt").read_text())
    children = _descendants(proc.pid)  # the checker (and multiprocessing's resource tracker)
    assert children
    proc.stdin.close()  # the parent exits now (a warm-up's checker is still importing)
    t = time.perf_counter()
    if end == "killed":
        proc.kill()
    assert proc.wait(timeout=60) == (-signal.SIGKILL if end == "killed" else 0)
    for pid in children:
        _wait_gone(pid)
    assert time.perf_counter() - t < 60  # a warm-up's import is waited for, nothing more
    out = "".join(lines) + proc.stdout.read()
    assert out.startswith("loaded __main__\n")
    # spawn ran the script's top level again in the checker (its guard kept main() out);
    # a forked checker has it already
    assert ("loaded __mp_main__\n" in out) == (start == "spawn") and out.count("done") == 1
    if end != "warm-up":
        assert "CheckOutcome(passed=True" in out and "gx here: False" in out


def test_no_rendered_day_needs_no_checker_process():
    """A night that rendered no day (nothing new) passes the day check without starting the
    checker process (and without importing Great Expectations)."""
    code = (
        "import multiprocessing, sys\n"
        "from pipeline import checks\n"
        "out = checks.check_day_files({}, ['A1'], {})\n"
        "assert out.passed and out.failures == []\n"
        "assert multiprocessing.active_children() == []\n"
        "assert 'great_expectations' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
