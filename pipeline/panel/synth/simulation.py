"""The simulation: every response drawn from one seeded generator in a fixed order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from pipeline.panel.synth.layouts import (
    ALNUM,
    CITIES,
    HOURLY,
    INT_SHAPE,
    LANGS,
    META,
    MULTI,
    NON_US,
    NUMERIC,
    RADIO,
    RECAPTCHA,
    SHOWN_IF,
    STATES,
    SURVEY_IDS,
    TEXT,
    TOKEN_CHARS,
    UNKNOWN_SURVEY_IDS,
    ZIPS,
    layout,
)
from pipeline.panel.synth.model import Col
from pipeline.panel.synth.options import SynthSpec


# --- simulation ---------------------------------------------------------------------------
@dataclass
class _Panel:
    cols: dict[str, Col]
    wave: np.ndarray
    recorded: np.ndarray


def _random_strings(
    rng: np.random.Generator, n: int, length: int, alphabet: np.ndarray
) -> np.ndarray:
    return alphabet[rng.integers(0, len(alphabet), size=(n, length))]


def _as_bytes(mat: np.ndarray) -> np.ndarray:
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    return mat.view(f"S{mat.shape[1]}").ravel()


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + 48).astype(np.uint8)


def _vocab_col(codes: np.ndarray, vocab: tuple[str, ...] | list[str]) -> Col:
    return Col("vocab", codes.astype(np.int32), tuple(vocab))


def _choice(rng: np.random.Generator, n: int, probs, missing: float = 0.0) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    codes = rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int32)
    if missing:
        codes[rng.random(n) < missing] = -1
    return codes


def _radio(rng: np.random.Generator, n: int, name: str) -> Col:
    codes, probs, missing = RADIO[name]
    return _vocab_col(_choice(rng, n, probs, missing), [str(c) for c in codes])


def _multi(rng: np.random.Generator, n: int, name: str) -> Col:
    k, p_each, none_code, p_none, missing = MULTI[name]
    weights = p_each * np.linspace(1.6, 0.4, k)  # earlier options are chosen more often
    bits = rng.random((n, k)) < weights
    bits[:, none_code - 1] = False
    empty = ~bits.any(axis=1)
    pick = rng.integers(0, k, size=n)
    pick = np.where(pick == none_code - 1, (pick + 1) % k, pick)
    bits[empty, pick[empty]] = True
    none = rng.random(n) < p_none
    bits[none] = False
    bits[none, none_code - 1] = True
    return Col("multi", bits, missing=rng.random(n) < missing, none_code=none_code)


def _numeric(rng: np.random.Generator, n: int, name: str) -> Col:
    max_int, floats, odd, p_float, p_odd, missing = NUMERIC[name]
    p_geom, p_zero = INT_SHAPE[name]
    ints = np.minimum(rng.geometric(p_geom, size=n) - (0 if name == "A2b" else 1), max_int)
    ints[rng.random(n) < p_zero] = 0
    vocab = [str(i) for i in range(max_int + 1)] + list(floats) + list(odd)
    codes = ints.astype(np.int32)
    u = rng.random(n)
    is_float = u < p_float
    is_odd = (u >= p_float) & (u < p_float + p_odd)
    codes[is_float] = max_int + 1 + rng.integers(0, len(floats), size=int(is_float.sum()))
    codes[is_odd] = max_int + 1 + len(floats) + rng.integers(0, len(odd), size=int(is_odd.sum()))
    codes[rng.random(n) < missing] = -1
    return _vocab_col(codes, vocab)


def _temperature(rng: np.random.Generator, n: int) -> Col:
    tenths = [f"{t / 10:.1f}" for t in range(970, 1051)]  # 97.0 .. 105.0 °F
    whole = [str(t) for t in range(98, 105)]
    celsius = ["37.5", "37.8", "38", "38.2", "38.5", "39", "39.4"]
    odd = ["986", "1002", "0", "110", "96.5", "106"]  # typos and outliers, numbers still
    vocab = tenths + whole + celsius + odd
    t = np.clip(np.rint(rng.normal(1005, 9, size=n)), 970, 1050).astype(np.int32) - 970
    u = rng.random(n)
    codes = t.copy()
    w = (u >= 0.6) & (u < 0.86)
    codes[w] = len(tenths) + np.clip((t[w] + 970) // 10 - 98, 0, len(whole) - 1)
    c = (u >= 0.86) & (u < 0.95)
    codes[c] = len(tenths) + len(whole) + rng.integers(0, len(celsius), size=int(c.sum()))
    j = u >= 0.95
    codes[j] = (
        len(tenths) + len(whole) + len(celsius) + rng.integers(0, len(odd), size=int(j.sum()))
    )
    codes[rng.random(n) < 0.04] = -1
    return _vocab_col(codes, vocab)


def _text(rng: np.random.Generator, n: int, name: str) -> Col:
    phrases, missing = TEXT[name]
    variants: list[Callable[[str], str]] = [
        lambda s: s,
        lambda s: " " + s,
        lambda s: s + " ",
        lambda s: "  " + s + "   ",
        lambda s: s.replace(" ", "  "),
        lambda s: s.replace(" ", "   ", 1) + "  ",
        lambda s: s.replace(" ", "\n", 1) if " " in s else s + "\n",
    ]
    p_var = (0.68, 0.07, 0.08, 0.05, 0.07, 0.04, 0.01)
    vocab = [v(p) for p in phrases for v in variants]
    phrase = rng.integers(0, len(phrases), size=n)
    variant = _choice(rng, n, p_var)
    codes = (phrase * len(variants) + variant).astype(np.int32)
    codes[rng.random(n) < missing] = -1
    return _vocab_col(codes, vocab)


def _zips(rng: np.random.Generator, n: int) -> tuple[Col, Col, Col]:
    """A3 (ZIP as typed), QState_A3 and QCity_A3 (Qualtrics' lookup of it)."""
    kind = _choice(
        rng, n, (0.72, 0.2, 0.015, 0.01, 0.005)
    )  # table, random, 9-digit, zip+4, 4-digit
    rank = np.arange(1, len(ZIPS) + 1)
    table = _choice(rng, n, 1 / np.sqrt(rank))
    rand5 = rng.integers(0, 100000, size=n)
    plus4 = rng.integers(0, 10000, size=n)
    zip5 = np.where(kind == 0, np.array([int(z) for z, _c, _s in ZIPS])[table], rand5)
    d5, d4 = _digits(zip5, 5), _digits(plus4, 4)
    out = np.zeros((n, 10), np.uint8)
    out[:, :5] = d5
    nine = kind == 2
    out[nine, 5:9] = d4[nine]
    dash = kind == 3
    out[dash, 5] = ord("-")
    out[dash, 6:10] = d4[dash]
    short = kind == 4  # a spreadsheet dropped the leading digit
    out[short, :4] = d5[short, 1:]
    out[short, 4] = 0
    zip_missing = rng.random(n) < 0.05

    states = list(STATES) + list(NON_US)
    known = kind == 0
    state_of_table = np.array([states.index(s) for _z, _c, s in ZIPS])
    guess = _choice(rng, n, [1.0] * len(STATES) + [0.5] * len(NON_US))
    state = np.where(known, state_of_table[table], guess).astype(np.int32)
    state[~known & (rng.random(n) < 0.4)] = -1
    cities = list(CITIES) + [c for _z, c, _s in ZIPS if c not in CITIES]
    city_of_table = np.array([cities.index(c) for _z, c, _s in ZIPS])
    city = np.where(known, city_of_table[table], rng.integers(0, len(cities), size=n)).astype(
        np.int32
    )
    city[rng.random(n) < np.where(known, 0.08, 0.5)] = -1
    state[zip_missing] = -1
    city[zip_missing] = -1
    return (
        Col("bytes", _as_bytes(out), missing=zip_missing),
        _vocab_col(state, states),
        _vocab_col(city, cities),
    )


def _midnights(start: date, count: int, zone: ZoneInfo) -> np.ndarray:
    return np.array(
        [
            int(datetime.combine(start + timedelta(days=k), datetime.min.time(), zone).timestamp())
            for k in range(count)
        ],
        dtype=np.int64,
    )


def simulate(spec: SynthSpec) -> _Panel:
    """Draw every response (one long, linear recipe; the draw order is part of the output)."""
    rng = np.random.Generator(np.random.PCG64(spec.seed))
    rates = spec.rates
    zone = ZoneInfo(spec.timezone)
    n = spec.days * spec.per_day

    # when: a diurnal start time on each day (DST-aware day lengths)
    mid = _midnights(spec.start, spec.days + 1, zone)
    day_len = np.diff(mid)
    day = np.repeat(np.arange(spec.days), spec.per_day)
    frac = (rng.choice(24, size=n, p=HOURLY) + rng.random(n)) / 24
    start = mid[day] + (frac * day_len[day]).astype(np.int64)

    # wave: switches at 1/3 and 2/3 of the range, each spread over about a day
    pos = day + frac + rng.random(n) - 0.5
    wave = (1 + (pos > spec.days / 3) + (pos > 2 * spec.days / 3)).astype(np.int8)

    # exclusive rule-exerciser categories
    cats = (
        rates.preview, rates.screened, rates.no_s1, rates.too_few,
        rates.missing_survey, rates.unknown_survey, rates.empty_token,
    )  # fmt: skip
    preview, screened, no_s1, too_few, no_survey, unknown_survey, no_token = (
        np.searchsorted(np.cumsum(cats), rng.random(n), side="right")[None, :]
        == np.arange(len(cats))[:, None]
    )

    # timing
    abandoned = ((rng.random(n) < rates.abandoned) & ~preview & ~screened) | too_few
    late = (rng.random(n) < rates.late) & ~abandoned & ~screened
    duration = np.clip(rng.lognormal(np.log(420), 0.6, size=n), 40, 5400).astype(np.int64)
    duration[screened] = rng.integers(4, 40, size=int(screened.sum()))
    progress = np.full(n, 100, np.int64)
    progress[abandoned] = rng.integers(10, 100, size=int(abandoned.sum()))
    progress[too_few] = rng.integers(1, 10, size=int(too_few.sum()))
    lag = rng.integers(86400, 4 * 86400 + 1, size=n)
    settle = rng.integers(0, 3, size=n)

    # identities; forwarded links share the original's token
    rid = np.empty((n, 17), np.uint8)
    rid[:, :2] = np.frombuffer(b"R_", np.uint8)
    rid[:, 2:] = _random_strings(rng, n, 15, ALNUM)
    tok = np.empty((n, 17), np.uint8)
    tok[:, 0] = _random_strings(rng, n, 1, ALNUM)[:, 0]
    tok[:, 1:] = _random_strings(rng, n, 16, TOKEN_CHARS)
    tok[rng.random(n) < rates.dash_token, 0] = ord("-")
    in_group = np.zeros(n, bool)
    groups = int(round(rates.collision * n)) if n < 20 else max(1, int(round(rates.collision * n)))
    by_start = np.argsort(start, kind="stable")
    sorted_start = start[by_start]
    sizes = rng.choice([2, 3, 4, 5], size=groups, p=[0.6, 0.22, 0.12, 0.06])
    origins = rng.choice(n, size=groups, replace=False) if groups else np.zeros(0, np.int64)
    gaps = rng.exponential(6 * 3600, size=(groups, 4)) + 1
    far = rng.random((groups, 4)) < 0.1  # a link still circulating days later
    gaps[far] = rng.uniform(86400, 14 * 86400, size=int(far.sum()))
    late_origin = rng.random(groups) < 0.35
    for g in range(groups):
        o = int(origins[g])
        if in_group[o]:
            continue
        in_group[o] = True
        targets = np.searchsorted(sorted_start, start[o] + gaps[g, : sizes[g] - 1].astype(np.int64))
        for p in targets:
            while p < n and in_group[by_start[p]]:
                p += 1
            if p >= n:
                break
            m = by_start[p]
            in_group[m] = True
            tok[m] = tok[o]
        if late_origin[g]:  # the original started first but is recorded days later
            late[o], abandoned[o], progress[o] = True, False, 100
    no_token |= preview & (rng.random(n) < 0.3)
    no_token &= ~in_group
    dash = tok[:, 0] == ord("-")
    tok_out = np.zeros((n, 18), np.uint8)
    tok_out[~dash, :17] = tok[~dash]
    tok_out[dash, 0] = ord("'")
    tok_out[dash, 1:] = tok[dash]

    end = start + duration
    recorded = end + settle
    end[abandoned] = recorded[abandoned] = start[abandoned] + 4 * 3600
    end[late] = recorded[late] = start[late] + lag[late]
    duration = end - start
    finished = ~abandoned

    cols: dict[str, Col] = {
        "StartDate": Col("time", start),
        "EndDate": Col("time", end),
        "RecordedDate": Col("time", recorded),
        "Progress": Col("int", progress),
        "Duration..in.seconds.": Col("int", duration),
        "Finished": _vocab_col(finished.astype(np.int32), ("0", "1")),
        "ResponseId": Col("bytes", _as_bytes(rid)),
        "token": Col("bytes", _as_bytes(tok_out), missing=no_token),
    }
    status = np.zeros(n, np.int32)
    status[preview] = 1
    status[(rng.random(n) < rates.spam) & ~preview] = 2
    cols["Status"] = _vocab_col(status, ("0", "1", "8"))
    cols["DistributionChannel"] = _vocab_col(preview.astype(np.int32), ("anonymous", "preview"))
    lang = _choice(rng, n, LANGS[1])
    lang[preview] = 0
    cols["UserLanguage"] = _vocab_col(lang, LANGS[0])
    s1 = np.where(screened, 1, 0).astype(np.int32)
    s1[no_s1] = -1
    cols["S1"] = _vocab_col(s1, ("1", "2"))
    survey = (wave - 1).astype(np.int32)
    survey[unknown_survey] = 3 + rng.integers(
        0, len(UNKNOWN_SURVEY_IDS), size=int(unknown_survey.sum())
    )
    survey[no_survey] = -1
    cols["SurveyID"] = _vocab_col(survey, tuple(SURVEY_IDS.values()) + UNKNOWN_SURVEY_IDS)
    cols["Q_TerminateFlag"] = _vocab_col(np.where(screened, 0, -1), ("Screened",))
    score = _choice(rng, n, RECAPTCHA[1], 0.03)
    score[preview] = -1
    cols["Q_RecaptchaScore"] = _vocab_col(score, RECAPTCHA[0])

    # answers, in questionnaire order (skip logic refers to earlier columns)
    questions = [c for c, _i, _t in layout(3) if c not in META]
    for name in questions:
        if name == "A3":
            cols["A3"], cols["QState_A3"], cols["QCity_A3"] = _zips(rng, n)
        elif name == "Q40":
            cols[name] = _temperature(rng, n)
        elif name in RADIO:
            cols[name] = _radio(rng, n, name)
        elif name in MULTI:
            cols[name] = _multi(rng, n, name)
        elif name in NUMERIC:
            cols[name] = _numeric(rng, n, name)
        elif name in TEXT:
            cols[name] = _text(rng, n, name)
        else:
            raise AssertionError(f"no generator for {name}")
        if name in SHOWN_IF:
            on, code = SHOWN_IF[name]
            cols[name].blank(~cols[on].chose(code))

    # unanswered: screened out, abandoned part-way, or (too few) almost nothing at all
    rank = np.arange(len(questions)) / len(questions)
    keep_one = too_few & (rng.random(n) < 0.5)
    kept = rng.integers(1, 6, size=n)
    kept_code = rng.integers(0, 2, size=n).astype(np.int32)
    for j, name in enumerate(questions):
        gone = screened | too_few | (abandoned & (rank[j] * 100 >= progress))
        cols[name].blank(gone)
    for k in range(1, 6):
        rows = keep_one & (kept == k)
        cols[f"A1_{k}"].data[rows] = kept_code[rows]
    no_zip = ~cols["A3"].present()
    cols["QState_A3"].blank(no_zip)
    cols["QCity_A3"].blank(no_zip)
    return _Panel(cols=cols, wave=wave, recorded=recorded)
