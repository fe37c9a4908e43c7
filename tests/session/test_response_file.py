"""Record checks of a raw responses file (:mod:`pipeline.session.response_file`) that guard
the night's build: a value the outputs could not handle sets its record aside (file,
record number, line; never the value), a file the decoder cannot read is rejected whole,
and ``exp_data`` given as an array is kept and paired as the platform pairs it."""

from __future__ import annotations

import json

import pytest

from pipeline.session.outputs.build import build_outputs
from pipeline.session.outputs.frames import frame_rows
from pipeline.session.process import load_drop, process_drop
from pipeline.session.records import SessionInputError, frame_data, read_responses
from pipeline.session.response_file import MAX_DEPTH, frames_by_name
from pipeline.session.rules import exit_value, is_withdrawn
from tests.session.factory import dump, make_record, rulings_csv, settings
from tests.session.outputs.helpers import accept_all, csv_rows, zip_entries

NAME = "responses_2024_03_01.json"


def _starts(data: bytes) -> list[int]:
    """The lines where the records of a :func:`dump` start."""
    return [n for n, text in enumerate(data.decode().splitlines(), 1) if text == "  {"]


def _set_aside_third(mutate, message: str) -> str:
    """Records a, b, c with ``mutate`` applied to c: c is set aside (record 3 and its
    line), a and b go through. Returns the error's text."""
    records = [make_record("a"), make_record("b"), make_record("c")]
    mutate(records[2])
    data = dump(records)
    read = read_responses(data, NAME)
    assert len(read.records) == 2
    ((error,),) = [read.set_aside]
    assert (error.file, error.record, error.line) == (NAME, 3, _starts(data)[2])
    assert message in str(error)
    return str(error)


# ------------------------------------------------------------------------ response.id


@pytest.mark.parametrize(
    "value",
    ["²", "１２", "12a", "x-7", "", " 12", -1, 1.5, True, [1], "9" * 19, 10**18],
)
def test_a_response_id_that_is_not_the_platforms_number_is_set_aside(value) -> None:
    """'²' is a digit to ``str.isdigit`` but not to ``int``: it used to stop the build."""

    def mutate(r: dict) -> None:
        r["response"]["id"] = value

    text = _set_aside_third(mutate, "response.id is not a whole number")
    if isinstance(value, str) and value.strip():
        assert value.strip() not in text.split(": ", 1)[1]


@pytest.mark.parametrize("value", [1353, "1353", "0099", None, 0, 10**18 - 1])
def test_numeric_response_ids_pass(value) -> None:
    raw = make_record("a", id=value)
    (record,) = read_responses(dump([raw]), NAME).records
    assert record["response"]["id"] == value  # kept as given


# ------------------------------------------------------------- timestamps out of range


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("date_created", "0001-01-01T00:00:00+05:00", "response.date_created is not a"),
        ("date_created", "9999-12-31T23:59:59-05:00", "response.date_created is not a"),
        ("date_created", "0001-01-01T00:00:00Z", "not in the years"),  # the `for` day
        ("date_created", "9999-12-31T23:00:00+00:00", "not in the years"),
        ("birthday", "0001-01-01T00:00:00+05:00", "child.birthday is not a date"),
    ],
)
def test_timestamps_outside_the_calendar_are_set_aside(key, value, message) -> None:
    """``astimezone`` raises OverflowError there: it used to stop the night."""

    def mutate(r: dict) -> None:
        (r["child"] if key == "birthday" else r["response"])[key] = value

    assert "0001" not in _set_aside_third(mutate, message)


def test_a_demographic_date_outside_the_calendar_is_no_age() -> None:
    """The snapshot's dates are not checked; they must not stop the build either."""
    record = make_record("a")
    record["demographic"]["child_birthdays"] = ["0001-01-01T00:00:00+05:00", "2023-03-01"]
    record["demographic"]["date_created"] = "0001-01-01T00:00:00+05:00"
    drop = {
        "responses.json": dump([record]),
        "consent.csv": rulings_csv(("a", "accepted", "2024-03-03T00:00:00Z")),
    }
    result = process_drop(drop, settings())
    (row,) = csv_rows(result.files["Physics-Study_all-demographic-snapshots.csv"])
    assert row["demographic__child_rounded_ages"] == "[None, 360]"


# ------------------------------------------------------------ files the decoder refuses


def _rejected(data: bytes) -> SessionInputError:
    """The file is rejected whole: by the reader and by the drop (quarantined)."""
    with pytest.raises(SessionInputError) as caught:
        read_responses(data, NAME)
    drop = load_drop({NAME: data})
    assert drop.records == [] and [str(e) for e in drop.errors] == [str(caught.value)]
    return caught.value


def test_a_number_too_long_to_read_rejects_the_file_whole() -> None:
    """``int`` refuses more than 4300 digits with a plain ValueError, not a decode error."""
    bad = make_record("c")
    bad["response"]["exp_data"]["1-survey"]["n"] = "BIG"
    data = dump([make_record("a"), make_record("b"), bad]).replace(b'"BIG"', b"7" * 5000)
    error = _rejected(data)
    line = _starts(data)[2]
    assert (error.record, error.line, error.column) == (3, line, 3)
    assert str(error) == (
        f"{NAME}, record 3, line {line}, column 3: "
        "not JSON that can be read: a number with more than 4300 digits"
    )
    assert "7777" not in str(error)
    top = _rejected(b"\n" + b"8" * 5000)  # not even an array
    assert (top.record, top.line) == (None, 2) and "8888" not in str(top)


def test_nesting_too_deep_to_read_rejects_the_file_whole() -> None:
    """The decoder gives up with RecursionError: not a decode error either."""
    deep = b"[" * 100_000 + b"]" * 100_000
    data = b'[\n  {"a": 1},\n  ' + deep + b"\n]"
    error = _rejected(data)
    assert (error.record, error.line, error.column) == (2, 3, 3)
    assert str(error).endswith("not JSON that can be read: nested too deeply")
    top = _rejected(b'{"x": ' + deep + b"}")
    assert top.record is None and "nested too deeply" in str(top)


def test_a_record_nested_too_deep_for_the_outputs_is_set_aside() -> None:
    def mutate(r: dict) -> None:
        value: list = []
        for _ in range(MAX_DEPTH):
            value = [value]
        r["response"]["exp_data"]["1-survey"]["formData"] = value

    _set_aside_third(mutate, f"nested more than {MAX_DEPTH} levels deep")
    near = make_record("a")  # a frame's data one level short of the limit goes through
    value: list = []
    for _ in range(MAX_DEPTH - 5):
        value = [value]
    near["response"]["exp_data"]["1-survey"]["formData"] = value
    assert len(read_responses(dump([near]), NAME).records) == 1


# ----------------------------------------------------------- exp_data given as an array


def test_frame_data_pairs_an_array_as_the_platform_does() -> None:
    """lookit-api ``Response.normalized_exp_data``: ``{k: v for k, v in zip(sequence,
    exp_data)}``. Extra items are dropped (so are names without an item); a repeated name
    keeps its first place and the later value."""
    assert frames_by_name([{"rt": 1}, 2, "extra"], ["0-a", "1-b"]) == {"0-a": {"rt": 1}, "1-b": 2}
    assert frames_by_name([1], ["0-a", "1-b"]) == {"0-a": 1}
    paired = frames_by_name([1, 2, 3], ["0-a", "1-b", "0-a"])
    assert list(paired.items()) == [("0-a", 3), ("1-b", 2)]
    assert frames_by_name([1, 2], []) == {}
    response = {"exp_data": [1, 2], "sequence": None}
    assert frame_data(response) == {}  # no sequence, no frame
    assert frame_data({"exp_data": None, "sequence": ["0-a"]}) == {}
    assert frame_data({"exp_data": {"x": 1}, "sequence": []}) == {"x": 1}  # as given


def _jspsych() -> dict:
    """A jsPsych-style response: exp_data is an array, one item more than the sequence,
    and a repeated frame name."""
    record = make_record("js", sequence=["0-consent", "1-trial", "1-trial", "2-exit-survey"])
    record["response"]["exp_data"] = [
        {"frameType": "CONSENT", "rt": 100},
        {"rt": 812, "birthDate": "2023-03-01"},
        "second try",
        {"frameType": "EXIT", "withdrawal": True, "birthDate": "2023-03-01"},
        {"rt": 999},  # beyond the sequence: the platform writes no frame of it
    ]
    return record


def test_a_jspsych_array_is_kept_in_the_record_and_read_as_frames() -> None:
    data = dump([_jspsych()])
    (record,) = read_responses(data, NAME).records
    assert record["response"]["exp_data"] == _jspsych()["response"]["exp_data"]
    assert list(frame_data(record["response"])) == ["0-consent", "1-trial", "2-exit-survey"]
    assert is_withdrawn(record) and exit_value(record, "withdrawal") is True
    rows = frame_rows(record, "H")
    assert [(fid, key, value) for _, _, fid, _, key, value in rows] == [
        ("0-consent", "rt", 100),
        ("1-trial", "", "second try"),  # the later value, at the name's first place
        ("2-exit-survey", "withdrawal", True),
    ]


def test_the_json_download_keeps_the_array_and_frame_data_follows_the_platform() -> None:
    """construct_response_dictionary writes ``resp.exp_data`` as it is (an array), while
    the frame data zips it with the sequence (SPEC §4.3: the platform's value types)."""
    (record,) = read_responses(dump([_jspsych()]), NAME).records
    files = build_outputs([record], settings(), accept_all("js"))
    (nested,) = json.loads(files["Physics-Study_all-responses.json"])
    assert nested["exp_data"] == [
        {"frameType": "CONSENT", "rt": 100},
        {"rt": 812},  # birthDate left out, as everywhere in our downloads
        "second try",
        {"frameType": "EXIT", "withdrawal": True},
        {"rt": 999},
    ]
    assert nested["response"]["withdrawn"] is True
    entries = zip_entries(files["Physics-Study_framedata_per_session.zip"])
    rows = csv_rows(next(iter(entries.values())))
    frames = [(r["frame_id"], r["key"]) for r in rows if r["frame_id"] != "global"]
    assert frames == [("0-consent", "rt"), ("1-trial", ""), ("2-exit-survey", "withdrawal")]
    assert not [r for r in rows if r["frame_id"] in ("4", "3")]  # no frame named by index


def test_a_sequence_of_frame_names_only() -> None:
    """The platform's sequence is an array of text (``ArrayField(CharField)``): anything
    else cannot name frames."""

    def mutate(r: dict) -> None:
        r["response"]["sequence"] = ["0-a", ["1-b"]]

    _set_aside_third(mutate, "response.sequence must be an array of frame names")
