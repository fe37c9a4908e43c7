"""The nested responses ``{study}_all-responses[-identifiable].json``, as the platform's
JSON download writes them.

Each record nests the chosen columns by section, in the platform's column order:
``response`` (``id``…``is_preview``, then ``sequence``, ``conditions`` and the researcher
fields), ``consent``, ``study``, ``participant``, ``child``; then ``exp_data`` at the top
level, as the record gives it (an object, or the array of a jsPsych-style study: the
platform writes ``resp.exp_data`` unchanged), every ``birthDate`` left out. Values keep
the platform's types (``"id": "1353"``, ``"age_rounded": "630"``, ``"comment": null``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.session.formats import platform_json
from pipeline.session.outputs.common import drop_birthdates
from pipeline.session.outputs.response_fields import response_values
from pipeline.session.outputs.settings import StudySettings
from pipeline.session.records import Record, Ruling


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """``section__field`` values nested as ``{section: {field: value}}``, sections in the
    order first met."""
    nested: dict[str, Any] = {}
    for column, value in values.items():
        section, _, name = column.partition("__")
        nested.setdefault(section, {})[name] = value
    return nested


def responses_json(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> list[dict[str, Any]]:
    """The response records nested as published, in the order of ``records``."""
    out = []
    for record in records:
        values = response_values(record, settings, rulings.get(record["response"]["uuid"]))
        nested = nest(values)
        exp = record["response"]["exp_data"]
        nested["exp_data"] = drop_birthdates({} if exp is None else exp)
        out.append(nested)
    return out


def responses_json_file(
    records: Sequence[Record], settings: StudySettings, rulings: Mapping[str, Ruling]
) -> bytes:
    """The JSON file's bytes (role ``responses_json``): :func:`platform_json`."""
    return platform_json(responses_json(records, settings, rulings))
