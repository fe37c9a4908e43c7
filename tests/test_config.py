"""Configuration files (SPEC §8): every key typed, unknown keys and empty files refused."""

from __future__ import annotations

import pytest

from pipeline.config import ConfigError, load_config


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
