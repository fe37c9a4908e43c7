"""Configuration files (SPEC §8): every key typed, unknown keys and empty files refused."""

from __future__ import annotations

import traceback

import pytest
from pydantic import ValidationError

from pipeline.config import DEFAULT_WAVES, Config, ConfigError, PanelRules, load_config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stabilization_days: four", "stabilization_days must be an integer, got str"),
        ("max_gap_days: true", "max_gap_days must be an integer, got bool"),
        ("gzip_daily: 'yes'", "gzip_daily must be true or false, got str"),
        ("weights: 5", "weights must be a string or null, got int"),
        ("rules: {numeric_items: [A2, 3]}", "rules.numeric_items must be a list of strings"),
        ("rules: {min_answers: 2.5}", "rules.min_answers must be an integer, got float"),
        ("waves: {SV_x: one}", "waves must be a mapping of a string to an integer"),
        ("sftp: {timeout: '3'}", "sftp.timeout must be a number, got str"),
        ("sftp: [a, b]", "sftp must be a mapping, got list"),
        ("rules: {cutof_hour: 4}", "unknown key(s): rules.cutof_hour"),
        ("kind: panel\nmax_gap_days: -1", "max_gap_days must be >= 0"),
    ],
)
def test_wrong_types_name_the_key_and_the_expected_type(tmp_path, text, message):
    path = tmp_path / "study.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "~\n"])
def test_an_empty_file_is_an_error(tmp_path, text):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="empty"):
        load_config(path)


def test_valid_values_load(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(
        "kind: panel\nmax_gap_days: 30\nsftp: {timeout: 5}\nwaves: {SV_x: 14}\n"
        "rules: {numeric_items: [A2], min_answers: 3}\n"
    )
    cfg = load_config(path)
    assert (cfg.max_gap_days, cfg.sftp.timeout, cfg.waves, cfg.rules.min_answers) == (
        30, 5, {"SV_x": 14}, 3,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # unknown keys first, all of a section's; then wrong types in the file's order
        ("weights: 5\nzz: 1\naa: 2", "unknown key(s): aa, zz"),
        ("rules: {min_answers: x, zz: 1, aa: 2}", "unknown key(s): rules.aa, rules.zz"),
        ("source: 6\nweights: 5", "source must be a string, got int"),
        # value checks only once every type is right, in the order they always ran
        ("max_gap_days: -1\nweights: 5", "weights must be a string or null, got int"),
        ("timezone: Mars/Base\nmax_cell_chars: 0", "max_cell_chars must be >= 1"),
        ("kind: sesion\nreissue: some", "kind must be 'panel' or 'session', not 'sesion'"),
        ("kind: 5", "kind must be a string, got int"),
        ("reissue: some", "reissue must be 'all' or 'changed', not 'some'"),
        ("timezone: Mars/Base", "unknown timezone 'Mars/Base'"),
        ("kind: session\nsession:", "kind: session needs a session: block with study_uuid"),
        ("- a\n- b", "expected a mapping, got list"),
    ],
)
def test_the_first_problem_is_reported(tmp_path, text, message):
    path = tmp_path / "study.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: {message}"


def test_a_wrong_value_is_not_echoed(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("sftp: {password_env: [hunter2]}\nrules: {min_answers: hunter2}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "hunter2" not in "".join(traceback.format_exception(err.value))  # nor in a cause


def test_paths_are_relative_to_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "study.yaml"
    path.write_text("source: drop\npublish: ~/pub\nweights: sftp://u@h/w\nsftp:\nsession:\n")
    cfg = load_config(path)
    assert (cfg.source, cfg.publish, cfg.weights) == (
        str(tmp_path / "conf" / "drop"), str(tmp_path / "home" / "pub"), "sftp://u@h/w",
    )  # fmt: skip
    assert cfg.archive == str(tmp_path / "conf" / "data" / "raw-archive")  # defaults too
    assert cfg.state == f"sqlite:///{tmp_path / 'conf' / 'data' / 'state.db'}"
    assert cfg.sftp.known_hosts == str(tmp_path / "home" / ".ssh" / "known_hosts")
    assert cfg.session is not None and cfg.session.salt_env == "STUDY_SALT"  # empty: defaults


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("sqlite:///db/s.db?mode=ro", "sqlite:///{dir}/db/s.db?mode=ro"),
        ("sqlite+pysqlite:///s.db", "sqlite+pysqlite:///{dir}/s.db"),
        ("sqlite:////abs/s.db", "sqlite:////abs/s.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql://u@h/sqlite", "postgresql://u@h/sqlite"),
    ],
)
def test_a_sqlite_state_file_is_relative_to_the_file(tmp_path, state, expected):
    path = tmp_path / "study.yaml"
    path.write_text(f"state: '{state}'\n")
    assert load_config(path).state == expected.format(dir=tmp_path.resolve())


def test_overrides_are_checked_like_the_file(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("kind: panel\n")
    cfg = load_config(path)
    moved = cfg.with_overrides(source="/elsewhere", publish=None)
    assert (moved.source, moved.publish) == ("/elsewhere", cfg.publish)
    assert cfg.source != "/elsewhere"  # a copy
    with pytest.raises(ConfigError, match=r"^max_gap_days must be >= 0$"):
        cfg.with_overrides(max_gap_days=-1)
    with pytest.raises(ConfigError, match=r"^unknown key\(s\): sorce$"):
        cfg.with_overrides(sorce="/x")


def test_built_configs_validate_and_are_frozen():
    cfg = Config(source="/drop", state="sqlite:////tmp/s.db").validate()
    assert (cfg.kind, cfg.rules, cfg.waves) == ("panel", PanelRules(), DEFAULT_WAVES)
    with pytest.raises(ValidationError):
        cfg.source = "/other"  # type: ignore[misc]
