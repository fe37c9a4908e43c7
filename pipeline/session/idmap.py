"""``python -m pipeline idmap``: the cross-study hashed child-ID map of two session studies."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipeline.config import Config, ConfigError
from pipeline.locations import open_location
from pipeline.session.formats import to_csv
from pipeline.session.outputs import StudySettings
from pipeline.session.process import process_drop
from pipeline.session.records import Record, input_kind
from pipeline.session.run import settings_for


def _published(cfg: Config):
    """Published (consented) records of a study, read from its source drop."""
    if cfg.kind != "session" or cfg.session is None:
        raise ConfigError("idmap needs two configurations of kind: session")
    loc = open_location(cfg.source, cfg.sftp)
    try:
        files = {
            f.path: loc.read_bytes(f.path)
            for f in loc.list_files()
            if input_kind(f.path.rsplit("/", 1)[-1]) is not None
        }
    finally:
        loc.close()
    settings = settings_for(cfg)
    result = process_drop(files, settings, cfg.session.include_preview, cfg.timezone)
    return result.published, settings


def idmap(
    records_a: Iterable[Record],
    settings_a: StudySettings,
    records_b: Iterable[Record],
    settings_b: StudySettings,
) -> bytes:
    """CSV ``Study_1_ID,Study_2_ID``: hashed child IDs (study A, study B) of the children
    present in both record sets, matched by child global ID; sorted, unique."""
    children_a = {r["child"]["global_id"] for r in records_a}
    children_b = {r["child"]["global_id"] for r in records_b}
    pairs = sorted({(settings_a.hashed(g), settings_b.hashed(g)) for g in children_a & children_b})
    return to_csv(["Study_1_ID", "Study_2_ID"], pairs)


def write_idmap(cfg_a: Config, cfg_b: Config, out: Path) -> int:
    """Write ``Study_1_ID,Study_2_ID`` for children with consented responses in both studies;
    returns the number of children."""
    records_a, settings_a = _published(cfg_a)
    records_b, settings_b = _published(cfg_b)
    data = idmap(records_a, settings_a, records_b, settings_b)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return max(0, data.count(b"\n") - 1)
