"""Parsing raw session input (SPEC §4.1): responses JSON, consent rulings, video lists.
Responses files are judged record by record (SPEC §6): a bad record is set aside with its
file, 1-based number and starting line; only a file that is not JSON is rejected whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipeline.session.records import (
    SessionInputError,
    input_kind,
    merge_records,
    newest_rulings,
    parse_responses,
    parse_rulings,
    parse_video_list,
    parse_video_name,
    read_responses,
    unmatched_rulings,
)
from pipeline.session.reports import set_aside_message, unmatched_message
from tests.session.factory import STUDY, dump, make_record, uid

# ----------------------------------------------------------------------------- responses


def test_parse_normalizes_records() -> None:
    raw = make_record("a")
    raw["child"]["global_id"] = raw["child"]["global_id"].upper()
    del raw["child"]["condition_list"]
    raw["response"]["extra_platform_field"] = 1
    (record,) = parse_responses(dump([raw]), "responses_2024_03_01.json")
    assert record["child"]["global_id"] == uid("child-1")
    assert record["child"]["condition_list"] is None
    assert "extra_platform_field" not in record["response"]
    assert set(record) == {"response", "study", "participant", "child", "demographic"}


def test_parse_accepts_a_byte_order_mark_and_an_empty_array() -> None:
    assert parse_responses(b"\xef\xbb\xbf[ ]\n", "r.json") == []
    assert len(parse_responses(b"\xef\xbb\xbf" + dump([make_record()]), "r.json")) == 1


def test_demographic_may_be_null() -> None:
    raw = make_record()
    raw["demographic"] = None
    (record,) = parse_responses(dump([raw]), "r.json")
    assert record["demographic"] is None


def _error(data: bytes, name: str = "responses_2024_03_01.json", **kw) -> SessionInputError:
    with pytest.raises(SessionInputError) as caught:
        parse_responses(data, name, **kw)
    assert name in str(caught.value)
    assert caught.value.file == name
    return caught.value


def test_not_json_names_file_and_line() -> None:
    data = dump([make_record("a")])[:-40] + b"\n}{ oops"
    error = _error(data)
    assert error.line is not None and error.line > 10
    assert f"line {error.line}" in str(error)
    assert "not JSON" in str(error)


def test_garbage_that_is_not_json_at_all() -> None:
    error = _error(b"response_uuid,action\n1,2\n")
    assert "not JSON" in str(error) and (error.line, error.column) == (1, 1)
    assert error.record is None  # the file, whole


def test_not_an_array() -> None:
    error = _error(json.dumps(make_record()).encode())
    assert "array" in str(error)


def test_undecodable_bytes_name_the_line() -> None:
    data = b'[\n  {"response":\n "caf\xe9"}]'
    error = _error(data)
    assert "UTF-8" in str(error) and (error.line, error.column) == (3, 6)
    assert "line 3, column 6" in str(error) and "caf" not in str(error)


def test_extra_data_after_the_array() -> None:
    error = _error(dump([make_record()]) + b"\n[]")
    assert "extra data" in str(error)


def _record_starts(data: bytes) -> list[int]:
    """The lines where the records of a :func:`dump` start."""
    return [n for n, text in enumerate(data.decode().splitlines(), 1) if text == "  {"]


def test_missing_top_level_key_names_record_and_line() -> None:
    good, bad = make_record("a"), make_record("b")
    del bad["child"]
    data = dump([good, bad])
    line = _record_starts(data)[1]  # where the second record starts
    error = _error(data)
    assert error.record == 2 and error.line == line
    assert "record 2" in str(error) and f"line {line}" in str(error)
    assert "child" in str(error)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["response"].pop("uuid"), "response.uuid"),
        (lambda r: r["response"].__setitem__("date_created", "yesterday"), "date_created"),
        (lambda r: r["child"].__setitem__("global_id", "kid-7"), "child.global_id"),
        (lambda r: r["participant"].__setitem__("global_id", ""), "participant.global_id"),
        (lambda r: r["child"].__setitem__("birthday", "03/01/2020"), "child.birthday"),
        (lambda r: r["response"].__setitem__("exp_data", "frames"), "exp_data"),
        (lambda r: r["response"].__setitem__("eligibility", 3), "eligibility"),
        (lambda r: r["response"].__setitem__("parent_feedback", {"a": 1}), "parent_feedback"),
        (lambda r: r["response"].__setitem__("is_preview", "no"), "is_preview"),
        (lambda r: r.__setitem__("study", "physics"), "'study' must be an object"),
    ],
)
def test_invalid_fields(mutate, message: str) -> None:
    records = [make_record("a"), make_record("b"), make_record("c")]
    mutate(records[2])
    error = _error(dump(records))
    assert error.record == 3 and message in str(error)


def test_a_bad_record_is_set_aside_and_the_others_go_through() -> None:
    """One non-UUID child global_id costs its record only, not the file (SPEC §6)."""
    records = [make_record("a"), make_record("b"), make_record("c"), make_record("d")]
    records[1]["child"]["global_id"] = "kid-7"
    del records[3]["response"]["date_created"]
    data = dump(records)
    read = read_responses(data, "responses_2024_03_01.json")
    assert [r["response"]["uuid"] for r in read.records] == [uid("a"), uid("c")]
    starts = _record_starts(data)
    assert [(e.file, e.record, e.line) for e in read.set_aside] == [
        ("responses_2024_03_01.json", 2, starts[1]),
        ("responses_2024_03_01.json", 4, starts[3]),
    ]
    assert str(read.set_aside[0]) == (
        f"responses_2024_03_01.json, record 2, line {starts[1]}: child.global_id is not a UUID"
    )
    assert "response.date_created" in str(read.set_aside[1])


def test_set_aside_messages_never_quote_the_data() -> None:
    """Values, tokens and UUIDs of the data never appear in a message (SPEC §6)."""
    bad = [make_record(str(n)) for n in range(6)]
    bad[0]["child"]["global_id"] = "Emma Smith 2019-04-02"
    bad[1]["study"]["uuid"] = uid("another study")
    bad[2]["response"]["date_created"] = "Tuesday at noon, 555-0100"
    bad[3]["child"]["birthday"] = "her birthday"
    bad[4]["response"]["is_preview"] = "secret-token-123"
    bad[5]["response"]["conditions"] = "private condition"
    read = read_responses(dump(bad), "r.json", study_uuid=STUDY)
    assert read.records == [] and len(read.set_aside) == 6
    text = " ".join(str(e) for e in read.set_aside)
    for value in ("Emma", "2019-04-02", uid("another study"), STUDY, "Tuesday", "555",
                  "her birthday", "secret-token", "private condition"):  # fmt: skip
        assert value not in text, value


def test_unknown_keys_are_accepted_and_counted() -> None:
    """Unknown keys are counted; only the platform's own field names are kept as names
    (a broken export could key data by a nickname or a token: SPEC §6)."""
    one, two = make_record("a"), make_record("b")
    one["response"]["new_platform_field"] = 1
    two["response"]["new_platform_field"] = 2
    two["response"]["withdrawn"] = False  # a platform field SPEC §4.1 does not read
    two["child"]["hashed_id"] = "2Y7W5d"
    two["consent"] = {"ruling": "accepted"}  # the JSON download's section
    two["child"]["emma_smith"] = "blue"  # looks like a field name: still not named
    two["participant"]["tok_8f3kq2"] = 1
    two["response"]["Emma Smith's answer"] = "x"
    read = read_responses(dump([one, two]), "r.json")
    assert len(read.records) == 2 and read.set_aside == []
    assert dict(read.unknown_keys) == {
        "response.withdrawn": 1,
        "child.hashed_id": 1,
        "consent": 1,
        "(other)": 5,
    }
    assert all("new_platform_field" not in r["response"] for r in read.records)


def test_truncated_file_is_rejected_whole_with_line_and_column() -> None:
    """A truncated file is not JSON: rejected whole; the decoder's place is kept whole
    (it used to be cut after "Unterminated string starting at")."""
    data = dump([make_record("a"), make_record("b")])
    cut = data[: data.rindex(b'"uuid": "') + 12]  # inside the second record's uuid string
    line = cut.count(b"\n") + 1
    column = len(cut) - cut.rindex(b"\n") - 4  # where the string starts (its quote)
    error = _error(cut)
    assert error.record == 2 and (error.line, error.column) == (line, column)
    assert f"Unterminated string starting at: line {line} column {column}" in str(error)
    assert str(error).startswith("responses_2024_03_01.json, record 2: not JSON: ")
    with pytest.raises(SessionInputError):
        read_responses(cut, "r.json")  # not one record of it is used


def test_new_platform_fields_are_kept() -> None:
    raw = make_record(
        eligibility=["Ineligible_TooYoung"],
        parent_feedback="Fun!",
        researcher_payment_status="to_pay",
        researcher_session_status="follow_up",
        researcher_star=True,
    )
    (record,) = parse_responses(dump([raw]), "r.json")
    assert record["response"]["eligibility"] == ["Ineligible_TooYoung"]
    assert record["response"]["parent_feedback"] == "Fun!"
    assert record["response"]["researcher_payment_status"] == "to_pay"
    assert record["response"]["researcher_session_status"] == "follow_up"
    assert record["response"]["researcher_star"] is True
    del raw["response"]["eligibility"]  # exports without the newer fields still parse
    (record,) = parse_responses(dump([raw]), "r.json")
    assert record["response"]["eligibility"] is None


def test_jspsych_style_frames_parse() -> None:
    """Frames whose data is not an object, and exp_data given as an array (jsPsych-style
    studies), are data, not errors; the array is kept as it is
    (tests/session/test_response_file.py pairs it with the sequence)."""
    raw = make_record("a")
    raw["response"]["exp_data"]["1-survey"] = 3
    (record,) = parse_responses(dump([raw]), "r.json")
    assert record["response"]["exp_data"]["1-survey"] == 3
    raw["response"]["sequence"] = ["0-intro", "1-trial"]
    raw["response"]["exp_data"] = [{"rt": 812}, [1, 2], "extra"]
    (record,) = parse_responses(dump([raw]), "r.json")
    assert record["response"]["exp_data"] == [{"rt": 812}, [1, 2], "extra"]


def test_record_not_an_object() -> None:
    error = _error(b'[\n  "just text"\n]')
    assert error.record == 1 and error.line == 2 and "object" in str(error)
    read = read_responses(b"[\n  " + dump([make_record()])[1:-1] + b',\n  "just text"\n]', "r.json")
    assert len(read.records) == 1 and [e.record for e in read.set_aside] == [2]


def test_record_of_another_study() -> None:
    raw = make_record()
    raw["study"]["uuid"] = uid("other study")
    assert parse_responses(dump([raw]), "r.json")  # no expectation: fine
    error = _error(dump([raw]), study_uuid=STUDY)
    assert "not this study" in str(error)


def test_merge_keeps_the_most_advanced_copy_in_any_order() -> None:
    early = make_record("a", completed=False, sequence=["0-video-consent"])
    late = make_record("a")
    other = make_record("b", created="2024-03-01T08:00:00Z")
    for batch in ([early, late, other], [other, late, early]):
        merged = merge_records(batch)
        assert [r["response"]["uuid"] for r in merged] == [uid("b"), uid("a")]
        assert merged[1]["response"]["completed"] is True


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("responses_2024_03_01.json", "responses"),
        ("in/Consent_Rulings_2024_03_02.csv", "rulings"),
        ("videos_2024_03_01.txt", "videos"),
        ("notes.txt", None),
        ("weights.csv", None),
    ],
)
def test_input_kind(name: str, kind: str | None) -> None:
    assert input_kind(name) == kind


# ----------------------------------------------------------------------------- rulings

RULINGS = (
    "response_uuid,action,arbiter,created_at,comment\n"
    f'{uid("a")},pending,jrivera,2024-03-02T10:00:00Z,"Audio unclear, asked PI"\n'
    f'{uid("a")},accepted,mchen,2024-03-04T09:00:00Z,"fine\nnow"\n'
    f"{uid('b')},Accepted ,mchen,2024-03-02 10:00:00,\n"
    "\n"
)


def test_parse_rulings() -> None:
    rulings = parse_rulings(RULINGS.encode(), "consent_rulings_2024_03_04.csv")
    assert [r.action for r in rulings] == ["pending", "accepted", "accepted"]
    assert rulings[0].comment == "Audio unclear, asked PI"
    assert rulings[1].comment == "fine\nnow"
    assert rulings[2].created_at == datetime(2024, 3, 2, 10, tzinfo=UTC)  # naive = UTC
    assert rulings[1].created_at == datetime(2024, 3, 4, 9, tzinfo=UTC)


def test_newest_ruling_wins_whatever_the_order() -> None:
    rulings = parse_rulings(RULINGS.encode(), "c.csv")
    for ordered in (rulings, rulings[::-1]):
        newest = newest_rulings(ordered)
        assert newest[uid("a")].action == "accepted"
        assert newest[uid("a")].arbiter == "mchen"


def test_equal_times_the_restrictive_ruling_wins() -> None:
    data = (
        "response_uuid,action,created_at\n"
        f"{uid('a')},accepted,2024-03-02T10:00:00Z\n"
        f"{uid('a')},rejected,2024-03-02T10:00:00Z\n"
    ).encode()
    for rows in (parse_rulings(data, "c.csv"), parse_rulings(data, "c.csv")[::-1]):
        assert newest_rulings(rows)[uid("a")].action == "rejected"


def test_rulings_with_only_the_required_columns() -> None:
    data = f"created_at,action,response_uuid\n2024-03-02T10:00:00Z,rejected,{uid('a')}\n"
    (ruling,) = parse_rulings(data.encode(), "c.csv")
    assert (ruling.arbiter, ruling.comment, ruling.action) == ("", "", "rejected")


def test_rulings_remember_where_they_start_and_unmatched_ones_are_found() -> None:
    rulings = parse_rulings(RULINGS.encode(), "consent_rulings_2024_03_04.csv")
    assert [(r.file, r.line) for r in rulings] == [
        ("consent_rulings_2024_03_04.csv", 2),
        ("consent_rulings_2024_03_04.csv", 3),  # its comment runs on to line 4
        ("consent_rulings_2024_03_04.csv", 5),
    ]
    assert rulings[0] == parse_rulings(RULINGS.encode(), "other.csv")[0]  # place: no part
    unmatched = unmatched_rulings(rulings, [make_record("a")])
    assert [(r.response_uuid, r.line) for r in unmatched] == [(uid("b"), 5)]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("response_uuid,action\n", 1, "created_at"),
        (f"response_uuid,action,created_at\n{uid('a')},maybe,2024-03-02\n", 2, "action"),
        ("response_uuid,action,created_at\n\nnope,accepted,2024-03-02\n", 3, "response_uuid"),
        (f"response_uuid,action,created_at\n{uid('a')},accepted,soon\n", 2, "created_at"),
        (f"response_uuid,action,created_at\n{uid('a')},accepted\n", 2, "fields"),
    ],
)
def test_bad_rulings_name_file_and_line(body: str, line: int, message: str) -> None:
    with pytest.raises(SessionInputError) as caught:
        parse_rulings(body.encode(), "consent_rulings_2024_03_04.csv")
    assert caught.value.line == line
    assert "consent_rulings_2024_03_04.csv" in str(caught.value) and message in str(caught.value)


# ----------------------------------------------------------------------------- videos

SEED_VIDEO = (
    "videoStream_0f620873-2847-4eeb-9854-df7898934c17_1-video-consent_"
    "d96b3ba5-6806-4c09-86e2-77456163eb5a_1530921346557_292"
)


def test_parse_the_platform_example() -> None:
    video = parse_video_name(SEED_VIDEO)
    assert video.study_uuid == STUDY
    assert video.frame_id == "1-video-consent"
    assert video.response_uuid == "d96b3ba5-6806-4c09-86e2-77456163eb5a"
    assert not video.consent_prefix  # consent by its frame's type, see test_rules
    # The seed's consent frame logged recorderReady at 23:55:46.558Z.
    assert video.recorded_at == datetime(2018, 7, 6, 23, 55, 46, 557000, tzinfo=UTC)
    assert video.video_file == SEED_VIDEO
    marked = parse_video_name("consent-" + SEED_VIDEO + ".webm")
    assert marked.consent_prefix and marked.frame_id == "1-video-consent"
    assert marked.video_file == "consent-" + SEED_VIDEO + ".webm"


def test_frame_names_with_underscores_and_dashes() -> None:
    response = "D96B3BA5-6806-4C09-86E2-77456163EB5A"
    name = f"videoStream_{STUDY}_12-pref_phys-videos_trial_2_{response}_1530921371545_923.mp4"
    video = parse_video_name("some/folder/" + name)
    assert video.frame_id == "12-pref_phys-videos_trial_2"
    assert video.response_uuid == response.lower()
    assert video.video_file == name
    assert not video.consent_prefix
    assert not parse_video_name(name.replace("pref", "Consent")).consent_prefix


@pytest.mark.parametrize(
    "name",
    [
        "consent.mp4",
        f"videoStream_{STUDY}_{uid('r')}_1530921371545_923.mp4",  # no frame
        f"videoStream_{STUDY}_3-x_{uid('r')}_notatime_923.mp4",
        f"videoStream_{STUDY}_3-x_not-a-uuid_1530921371545_923.mp4",
        f"Consent_videoStream_{STUDY}_3-x_{uid('r')}_1530921371545_923.mp4",  # not the prefix
    ],
)
def test_bad_video_names(name: str) -> None:
    with pytest.raises(ValueError, match="videoStream"):
        parse_video_name(name)


def test_video_list_skips_blank_lines_and_names_bad_lines() -> None:
    good = f"{SEED_VIDEO}.mp4"
    assert len(parse_video_list(f"{good}\r\n\n{good}\n".encode(), "videos_x.txt")) == 2
    with pytest.raises(SessionInputError) as caught:
        parse_video_list(f"{good}\n\nREADME.md\n".encode(), "videos_x.txt")
    assert caught.value.line == 3 and "videos_x.txt" in str(caught.value)


def test_notices_list_a_few_places_and_count_the_rest() -> None:
    problems = [
        SessionInputError("r.json", "child.global_id is not a UUID", n, 10 * n) for n in range(1, 8)
    ]
    text = set_aside_message("r.json", problems)
    assert text.startswith("Input file r.json: 7 record(s) set aside and not used")
    assert "record 5, line 50: child.global_id is not a UUID" in text
    assert "record 6" not in text and text.endswith("and 2 more (see the run manifest)")
    rulings = parse_rulings(RULINGS.encode(), "consent_rulings_2024_03_04.csv")
    assert unmatched_message("c.csv", rulings[2:]) == (
        "Input file c.csv: 1 consent ruling(s) on a response never received (none among the "
        "records used; line 5): kept, and applied if the response arrives"
    )
